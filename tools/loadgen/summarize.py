#!/usr/bin/env python3
"""Medians of bench.sh results per scenario and broker, with Trident/peer ratios, as
Markdown tables. Usage: summarize.py results.jsonl"""
import json
import statistics
import sys
from collections import defaultdict


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d or d[k] is None:
            return None
        d = d[k]
    return d


METRICS = {
    "amqp": [
        ("publish msg/s", "publish_per_s", True),
        ("consume msg/s", "consume_per_s", True),
        ("e2e p50 ms", "latency.p50_us", False),
        ("e2e p99 ms", "latency.p99_us", False),
    ],
    "kafka-produce": [
        ("records/s", "records_per_s", True),
        ("MiB/s", "mib_per_s", True),
        ("ack p99 ms", "ack_latency.p99_us", False),
    ],
    "kafka-consume": [
        ("records/s", "records_per_s", True),
        ("MiB/s", "mib_per_s", True),
        ("redelivered", "checks.redelivered_offsets", True),
    ],
    "amqp-idle": [
        ("opened", "opened", True),
        ("RSS before MiB", "rss_before_kib", "mib"),
        ("RSS after MiB", "rss_after_kib", "mib"),
        ("bytes/connection", "per_connection_bytes", True),
    ],
    "mqtt": [
        ("publish msg/s (acked)", "publish_per_s", True),
        ("deliver msg/s", "deliver_per_s", True),
        ("e2e p50 ms", "latency.p50_us", False),
        ("e2e p99 ms", "latency.p99_us", False),
        ("acked", "acked", True),
        ("lost", "lost", True),
        ("duplicated", "duplicates", True),
    ],
    "mqtt-idle": [
        ("opened", "opened", True),
        ("RSS before MiB", "rss_before_kib", "mib"),
        ("RSS after MiB", "rss_after_kib", "mib"),
        ("bytes/connection", "per_connection_bytes", True),
    ],
    "kafka-e2e": [
        ("e2e p50 ms", "end_to_end_latency.p50_us", False),
        ("e2e p99 ms", "end_to_end_latency.p99_us", False),
        ("ack p99 ms", "ack_latency.p99_us", False),
        ("redelivered", "checks.redelivered_offsets", True),
    ],
}


def fmt(v, is_rate):
    if v is None:
        return "-"
    if is_rate == "mib":
        return f"{v / 1024:,.1f}"
    if is_rate:
        return f"{v:,.0f}" if v >= 100 else f"{v:,.1f}"
    ms = v / 1000.0
    return f"{ms:,.2f}" if ms < 100 else f"{ms:,.0f}"


def main():
    rows = defaultdict(lambda: defaultdict(list))
    order = []
    scen = {}
    for line in open(sys.argv[1]):
        line = line.strip()
        if not line:
            continue
        r = json.loads(line)
        key = r["bench"]
        if key not in order:
            order.append(key)
        scen[key] = r["result"]["scenario"]
        rows[key][r["broker"]].append(r["result"])
    for key in order:
        metrics = METRICS[scen[key]]
        brokers = list(rows[key].keys())
        peer = next((b for b in brokers if b != "trident"), None)
        print(f"\n**{key}** (median of {max(len(v) for v in rows[key].values())} runs)\n")
        head = "| broker | " + " | ".join(m[0] for m in metrics) + " |"
        print(head)
        print("|" + " --- |" * (len(metrics) + 1))
        med = {}
        for b in brokers:
            vals = []
            for name, path, is_rate in metrics:
                xs = [get(r, path) for r in rows[key][b]]
                xs = [x for x in xs if x is not None]
                m = statistics.median(xs) if xs else None
                med[(b, name)] = m
                spread = ""
                if len(xs) > 1:
                    spread = f" ({fmt(min(xs), is_rate)}-{fmt(max(xs), is_rate)})"
                vals.append(fmt(m, is_rate) + spread)
            print(f"| {b} | " + " | ".join(vals) + " |")
        if peer and "trident" in brokers:
            vals = []
            for name, _, _ in metrics:
                t, p = med.get(("trident", name)), med.get((peer, name))
                vals.append(f"{t / p:.2f}x" if t is not None and p else "-")
            print(f"| Trident/{peer} | " + " | ".join(vals) + " |")


if __name__ == "__main__":
    main()
