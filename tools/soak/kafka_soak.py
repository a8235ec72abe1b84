#!/usr/bin/env python3
"""Kafka crash soak: N `kill -9` cycles of a Trident broker under an idempotent producer.

One librdkafka producer (confluent-kafka; enable.idempotence=true, acks=all) streams
numbered records round robin over the partitions of one topic for the whole run; it is
never restarted, so every kill leaves it with requests in flight that it retries once
the broker is back, with the same producer id and sequence numbers (KIP-98). The broker
is killed with SIGKILL after a random 0.5-2.5 s of load and started again on the same
data directory and ports. After the last cycle the producer flushes, the broker is
started once more, every partition is read from the start, and the script prints:

  confirmed    records whose delivery report came back without error
  failed       records whose delivery report carried an error (the producer gave up;
               with a 5-minute message timeout none should)
  lost         confirmed records missing from the log
  duplicated   records stored more than once (a retry appended again: the bug that
               issue 11 fixed)
  reordered    records stored after a higher-numbered record of the same partition
  gaps         offsets missing inside a partition (offsets must be contiguous)
  restart      the longest time from spawning the broker to its Kafka port answering
               a Metadata request for the topic (every partition recovered)

Needs confluent-kafka (e.g. /tmp/kafka-venv/bin/python, or `pip install
confluent-kafka`) and a built broker:

  cargo build --release
  python3 tools/soak/kafka_soak.py --cycles 50

Exit status 0 when failed, lost, duplicated, reordered and gaps are all zero.
"""

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import time

from broker_process import BrokerProcess, repo_root

try:
    from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover - environment problem, not a soak result
    sys.exit("kafka_soak.py needs confluent-kafka: pip install confluent-kafka "
             "(or use /tmp/kafka-venv/bin/python)")

TOPIC = "soak.idempotent"


class Broker(BrokerProcess):
    """The broker under test, kafka on the given port."""

    def __init__(self, binary, data_dir, port, settings, log_path):
        super().__init__("kafka", binary, data_dir, port, settings, log_path)
        self.kafka_port = port

    @property
    def bootstrap(self):
        return f"127.0.0.1:{self.kafka_port}"


def wait_serving(broker, partitions, timeout=60.0):
    """Seconds from now until a Metadata request shows the topic with every partition."""
    t0 = time.monotonic()
    admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 2,
                         "reconnect.backoff.ms": 5, "reconnect.backoff.max.ms": 20})
    while time.monotonic() - t0 < timeout:
        if broker.proc.poll() is not None:
            raise RuntimeError(f"broker exited with {broker.proc.returncode}; see {broker.log_path}")
        try:
            md = admin.list_topics(TOPIC, timeout=0.5)
            t = md.topics.get(TOPIC)
            if t is not None and t.error is None and len(t.partitions) == partitions:
                return time.monotonic() - t0
        except Exception:  # noqa: BLE001 - "not yet" in any form
            pass
        time.sleep(0.005)
    raise RuntimeError("broker did not come up")


class Ledger:
    """What the producer saw, shared with its delivery callbacks."""

    def __init__(self):
        self.lock = threading.Lock()
        self.confirmed = set()
        self.failed = {}
        self.produced = 0


class Soak:
    def __init__(self, args, broker):
        self.args = args
        self.broker = broker
        self.ledger = Ledger()
        self.stop = threading.Event()
        self.producer = Producer({
            "bootstrap.servers": broker.bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "message.timeout.ms": 300000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
            "queue.buffering.max.messages": args.in_flight,
            # Connection-refused lines while the broker is down are expected noise.
            "log_level": 2,
            "log.connection.close": False,
        })

    def on_delivery(self, err, msg):
        n = int(msg.value()[:msg.value().index(b"|")])
        with self.ledger.lock:
            if err is None:
                self.ledger.confirmed.add(n)
            else:
                self.ledger.failed[n] = str(err)

    def produce_loop(self):
        pad = b"x" * max(0, self.args.size - 12)
        n = 0
        while not self.stop.is_set():
            try:
                self.producer.produce(
                    TOPIC, value=b"%d|" % n + pad, partition=n % self.args.partitions,
                    on_delivery=self.on_delivery)
                n += 1
                with self.ledger.lock:
                    self.ledger.produced = n
                self.producer.poll(0)
            except BufferError:
                # Queue full (the broker is down or slow): wait for reports.
                self.producer.poll(0.05)

    def run(self):
        rng = random.Random(self.args.seed)
        restarts = []
        thread = threading.Thread(target=self.produce_loop, daemon=True)
        thread.start()
        for c in range(self.args.cycles):
            time.sleep(rng.uniform(self.args.min_run, self.args.max_run))
            self.broker.kill9()
            self.broker.spawn()
            restarts.append(wait_serving(self.broker, self.args.partitions))
            with self.ledger.lock:
                confirmed, produced = len(self.ledger.confirmed), self.ledger.produced
            print(f"cycle {c + 1}/{self.args.cycles}: restart {restarts[-1]:.3f} s, "
                  f"produced {produced}, confirmed {confirmed}", flush=True)
        # Some load after the last restart too, so its retries are exercised.
        time.sleep(self.args.min_run)
        self.stop.set()
        thread.join()
        left = self.producer.flush(120)
        if left:
            print(f"note: {left} records still undelivered after a 120 s flush")
        return restarts


def read_back(broker, partitions):
    """Every stored record per partition, as (offset, number) in log order."""
    consumer = Consumer({
        "bootstrap.servers": broker.bootstrap,
        "group.id": "soak-check",
        "enable.auto.commit": False,
        "check.crcs": True,
        "fetch.max.bytes": 8 << 20,
    })
    stored = {}
    for p in range(partitions):
        _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
        stored[p] = {"high": high, "records": []}
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(partitions)])
    remaining = sum(v["high"] for v in stored.values())
    deadline = time.monotonic() + 300
    while remaining > 0 and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=10000, timeout=1.0):
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"fetch failed: {m.error()}")
            v = m.value()
            stored[m.partition()]["records"].append((m.offset(), int(v[:v.index(b"|")])))
            remaining -= 1
    consumer.close()
    return stored


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--binary", default=os.path.join(repo_root(), "target/release/trident"))
    p.add_argument("--data-dir", help="kept afterwards when given; default: a temporary dir")
    p.add_argument("--port", type=int, default=41100,
                   help="Kafka port; HTTP, AMQP and MQTT take the next three")
    p.add_argument("--partitions", type=int, default=3)
    p.add_argument("--size", type=int, default=100, help="record value bytes")
    p.add_argument("--in-flight", type=int, default=20000,
                   help="records the producer may hold unacknowledged")
    p.add_argument("--min-run", type=float, default=0.5, help="seconds of load before a kill, at least")
    p.add_argument("--max-run", type=float, default=2.5, help="... and at most")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="broker setting (repeatable), e.g. topics.segment_bytes=1048576")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"no broker binary at {args.binary}; run `cargo build --release` first")

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="kafka-soak-")
        data_dir = os.path.join(tmp, "data")
    log_path = os.path.join(os.path.dirname(os.path.abspath(data_dir)), "kafka-soak-broker.log")
    broker = Broker(args.binary, data_dir, args.port, args.set, log_path)
    try:
        broker.spawn()
        admin = AdminClient({"bootstrap.servers": broker.bootstrap, "log_level": 2})
        deadline = time.monotonic() + 30
        while True:
            try:
                fs = admin.create_topics([NewTopic(TOPIC, args.partitions, 1)], operation_timeout=5)
                fs[TOPIC].result(timeout=10)
                break
            except Exception as e:  # noqa: BLE001
                if "TOPIC_ALREADY_EXISTS" in str(e) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
        wait_serving(broker, args.partitions)

        soak = Soak(args, broker)
        restarts = soak.run()
        broker.stop()
        broker.spawn()
        wait_serving(broker, args.partitions)
        stored = read_back(broker, args.partitions)
        broker.stop()
    finally:
        broker.kill9()

    led = soak.ledger
    seen = collections.Counter()
    reordered = gaps = 0
    for part, info in stored.items():
        expect_offset = 0
        last = -1
        for offset, n in info["records"]:
            if offset != expect_offset:
                gaps += abs(offset - expect_offset)
            expect_offset = offset + 1
            if n < last:
                reordered += 1
            last = max(last, n)
            seen[n] += 1
        if len(info["records"]) != info["high"]:
            print(f"note: partition {part} read {len(info['records'])} of {info['high']} records")
    lost = sorted(n for n in led.confirmed if seen[n] == 0)
    duplicated = sorted(n for n, c in seen.items() if c > 1)
    stored_total = sum(len(i["records"]) for i in stored.values())

    print()
    print(f"cycles           {args.cycles} (kill -9 each), {args.partitions} partitions, "
          f"broker {args.binary}, settings {args.set or 'defaults'}")
    print(f"produced         {led.produced} (stored {stored_total})")
    print(f"confirmed        {len(led.confirmed)}")
    print(f"failed           {len(led.failed)}")
    print(f"lost             {len(lost)}")
    print(f"duplicated       {len(duplicated)}")
    print(f"reordered        {reordered}")
    print(f"gaps             {gaps}")
    print(f"restart          max {max(restarts):.3f} s, median "
          f"{sorted(restarts)[len(restarts) // 2]:.3f} s over {len(restarts)} restarts")
    for name, items in (("lost", lost), ("duplicated", duplicated),
                        ("failed", sorted(led.failed.items())[:10])):
        if items:
            print(f"  first {name}: {items[:10]}")
    bad = len(led.failed) + len(lost) + len(duplicated) + reordered + gaps
    if tmp is not None and not bad:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp is not None:
        print(f"data and broker log kept in {tmp}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
