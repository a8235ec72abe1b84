#!/usr/bin/env python3
"""AMQP crash soak: N `kill -9` cycles of a Trident broker under confirmed persistent load.

Each cycle starts the broker on the same data directory, runs publishers (persistent
messages, publisher confirms) into a durable fanout exchange that feeds two durable
queues, one consumed with manual acks and one nobody consumes, and kills the broker with
SIGKILL at a random moment. After the last cycle the broker is started once more, the
consumed queue is drained and the unconsumed one read out, and the script prints:

  confirmed    publishes whose confirm arrived before a kill
  lost         confirmed messages missing from a queue at the end (per queue)
  duplicated   a message stored twice in the unconsumed queue, or delivered again after
               its ack was followed by a completed round trip (basic.qos) at least
               --ack-bound-ms before the kill: the broker promised that ack was kept
  unflagged    a delivery of a message the consumer had already received, arriving with
               redelivered=false (a redelivery without the flag)
  acks lost    acked messages delivered again after a kill, and how long before the
               kill the oldest of those acks was sent: the window an ack without a round
               trip after it has to reach the broker's journal
  restart      the longest time from spawning the broker to a passive declare of both
               queues succeeding (every queue recovered and serving)

Redeliveries of messages whose ack was not yet promised durable are at-least-once
behaviour, counted (as `redelivered`) but not as errors. Unconfirmed publishes may or
may not survive a kill; they count neither as lost nor as duplicated.

Needs pika (e.g. /tmp/peers/venv/bin/python, or `pip install pika`) and a built broker:

  cargo build --release
  python3 tools/soak/amqp_soak.py --cycles 50

Exit status 0 when lost, duplicated and unflagged are all zero.
"""

import argparse
import collections
import os
import random
import shutil
import socket
import sys
import tempfile
import threading
import time

from broker_process import BrokerProcess, repo_root

try:
    import pika
    import pika.exceptions
except ImportError:  # pragma: no cover - environment problem, not a soak result
    sys.exit("amqp_soak.py needs pika: pip install pika (or use /tmp/peers/venv/bin/python)")

EXCHANGE = "soak.fanout"
CONSUMED = "soak.consumed"
UNCONSUMED = "soak.unconsumed"
ROUND_TRIP_EVERY = 20  # acks between two basic.qos round trips


class Broker(BrokerProcess):
    """The broker under test, amqp on the given port."""

    def __init__(self, binary, data_dir, port, settings, log_path):
        super().__init__("amqp", binary, data_dir, port, settings, log_path)
        self.amqp_port = port

    def params(self):
        return pika.ConnectionParameters(
            "127.0.0.1", self.amqp_port, heartbeat=0, blocked_connection_timeout=30,
            connection_attempts=1, socket_timeout=5)


def wait_serving(broker, timeout=60.0):
    """Returns seconds from now until both queues answer a passive declare."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if broker.proc.poll() is not None:
            raise RuntimeError(f"broker exited with {broker.proc.returncode}; see {broker.log_path}")
        try:
            with socket.create_connection(("127.0.0.1", broker.amqp_port), timeout=0.2):
                pass
            conn = pika.BlockingConnection(broker.params())
            ch = conn.channel()
            ch.queue_declare(CONSUMED, passive=True)
            ch.queue_declare(UNCONSUMED, passive=True)
            conn.close()
            return time.monotonic() - t0
        except (OSError, pika.exceptions.AMQPError):
            time.sleep(0.005)
    raise RuntimeError("broker did not come up")


def declare(broker):
    conn = pika.BlockingConnection(broker.params())
    ch = conn.channel()
    ch.exchange_declare(EXCHANGE, "fanout", durable=True)
    for q in (CONSUMED, UNCONSUMED):
        ch.queue_declare(q, durable=True)
        ch.queue_bind(q, EXCHANGE)
    conn.close()


class Ledger:
    """What the clients saw, shared by the worker threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.confirmed = set()
        # id -> number of deliveries seen on the consumed queue
        self.deliveries = collections.Counter()
        self.redelivered = 0
        self.unflagged = []
        self.flagged_first = 0
        # id -> monotonic time from which its ack was promised durable
        self.ack_promised_at = {}
        # id -> cycle in which it was last acked, and when that ack was sent
        self.acked_in = {}
        self.ack_sent_at = {}
        self.ack_violations = []
        # Acked messages delivered again after a kill, and the oldest such ack's age
        # at the kill: the window in which a kill can still lose an ack.
        self.acked_redelivered = 0
        self.max_lost_ack_age = 0.0


class Soak:
    def __init__(self, args, broker):
        self.args = args
        self.broker = broker
        self.ledger = Ledger()
        self.cycle = 0
        self.kill_times = {}  # cycle -> monotonic kill time
        self.running = threading.Event()  # clients may connect
        self.stop = threading.Event()

    def connect(self):
        while not self.stop.is_set():
            if not self.running.is_set():
                self.running.wait(0.05)
                continue
            try:
                return pika.BlockingConnection(self.broker.params())
            except (OSError, pika.exceptions.AMQPError):
                time.sleep(0.01)
        return None

    def publisher(self, index):
        n = 0
        body_pad = b"x" * max(0, self.args.size - 16)
        while not self.stop.is_set():
            conn = self.connect()
            if conn is None:
                return
            try:
                ch = conn.channel()
                ch.confirm_delivery()
                props = pika.BasicProperties(delivery_mode=2)
                while not self.stop.is_set() and self.running.is_set():
                    mid = f"p{index}-{n}"
                    n += 1
                    ch.basic_publish(EXCHANGE, "", mid.encode() + b"|" + body_pad, props)
                    with self.ledger.lock:
                        self.ledger.confirmed.add(mid)
                conn.close()
            except (OSError, pika.exceptions.AMQPError, ConnectionError):
                # The kill: this publish is unconfirmed; go on with fresh ids.
                pass

    def consumer(self, drain_until=None):
        led = self.ledger
        while not self.stop.is_set():
            conn = self.connect()
            if conn is None:
                return
            try:
                ch = conn.channel()
                ch.basic_qos(prefetch_count=self.args.prefetch)
                since_round_trip = []
                for method, props, body in ch.consume(CONSUMED, inactivity_timeout=0.2):
                    if self.stop.is_set() or not self.running.is_set():
                        break
                    if method is None:
                        continue
                    mid = body.split(b"|", 1)[0].decode()
                    now_cycle = self.cycle
                    with led.lock:
                        seen = led.deliveries[mid]
                        led.deliveries[mid] += 1
                        if seen:
                            led.redelivered += 1
                            if not method.redelivered:
                                led.unflagged.append(mid)
                            promised = led.ack_promised_at.get(mid)
                            killed = self.kill_times.get(led.acked_in.get(mid, -1))
                            if promised is not None and killed is not None and promised <= killed:
                                led.ack_violations.append(mid)
                            sent = led.ack_sent_at.get(mid)
                            if sent is not None and killed is not None:
                                led.acked_redelivered += 1
                                led.max_lost_ack_age = max(led.max_lost_ack_age, killed - sent)
                        elif method.redelivered:
                            led.flagged_first += 1
                    ch.basic_ack(method.delivery_tag)
                    with led.lock:
                        led.acked_in[mid] = now_cycle
                        led.ack_sent_at[mid] = time.monotonic()
                        led.ack_promised_at.pop(mid, None)
                    since_round_trip.append(mid)
                    if len(since_round_trip) >= ROUND_TRIP_EVERY:
                        # A synchronous method after the acks: once it completes, the
                        # broker promises those acks survive a kill after the bound.
                        ch.basic_qos(prefetch_count=self.args.prefetch)
                        promised = time.monotonic() + self.args.ack_bound_ms / 1000.0
                        with led.lock:
                            for m in since_round_trip:
                                led.ack_promised_at[m] = promised
                        since_round_trip = []
                conn.close()
            except (OSError, pika.exceptions.AMQPError, ConnectionError):
                pass

    def run_cycles(self):
        restarts = []
        threads = [threading.Thread(target=self.publisher, args=(i,), daemon=True)
                   for i in range(self.args.publishers)]
        threads.append(threading.Thread(target=self.consumer, daemon=True))
        for t in threads:
            t.start()
        rng = random.Random(self.args.seed)
        for c in range(self.args.cycles):
            self.cycle = c
            self.broker.spawn()
            restarts.append(wait_serving(self.broker))
            self.running.set()
            time.sleep(rng.uniform(self.args.min_run, self.args.max_run))
            self.kill_times[c] = time.monotonic()
            self.broker.kill9()
            self.running.clear()
            with self.ledger.lock:
                confirmed = len(self.ledger.confirmed)
                delivered = sum(self.ledger.deliveries.values())
            print(f"cycle {c + 1}/{self.args.cycles}: restart {restarts[-1]:.3f} s, "
                  f"confirmed {confirmed}, deliveries {delivered}", flush=True)
            time.sleep(0.1)  # let the clients notice the kill before the next start
        self.stop.set()
        self.running.set()
        for t in threads:
            t.join(timeout=10)
        return restarts

    def final_check(self):
        """Restarts once more, drains the consumed queue, reads the unconsumed one."""
        self.cycle = self.args.cycles
        self.broker.spawn()
        final_restart = wait_serving(self.broker)
        self.stop.clear()
        self.running.set()
        consumer = threading.Thread(target=self.consumer, daemon=True)
        consumer.start()
        led = self.ledger
        # Drained: nothing ready or unacked in the consumed queue and no new deliveries.
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() - quiet_since < 2.0:
            time.sleep(0.2)
            with led.lock:
                total = sum(led.deliveries.values())
            if total != last:
                last, quiet_since = total, time.monotonic()
        self.stop.set()
        consumer.join(timeout=10)
        stored = collections.Counter()
        conn = pika.BlockingConnection(self.broker.params())
        ch = conn.channel()
        ready = ch.queue_declare(CONSUMED, passive=True).method.message_count
        for method, _props, body in ch.consume(UNCONSUMED, inactivity_timeout=1.0):
            if method is None:
                break
            stored[body.split(b"|", 1)[0].decode()] += 1
        conn.close()
        self.broker.stop()
        return final_restart, stored, ready


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=50)
    p.add_argument("--binary", default=os.path.join(repo_root(), "target/release/trident"))
    p.add_argument("--data-dir", help="kept afterwards when given; default: a temporary dir")
    p.add_argument("--port", type=int, default=42100,
                   help="AMQP port; the next three take HTTP, Kafka and MQTT")
    p.add_argument("--publishers", type=int, default=4)
    p.add_argument("--prefetch", type=int, default=100)
    p.add_argument("--size", type=int, default=256, help="message body bytes")
    p.add_argument("--min-run", type=float, default=0.5, help="seconds of load before a kill, at least")
    p.add_argument("--max-run", type=float, default=2.5, help="... and at most")
    p.add_argument("--ack-bound-ms", type=float, default=50.0,
                   help="the broker's stated bound from a round trip after an ack to that ack surviving kill -9")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="broker setting, e.g. --set durability=fsync")
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: cargo build --release first, or pass --binary")

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="trident-amqp-soak-")
        data_dir = os.path.join(tmp, "data")
    log_path = os.path.join(tmp or os.path.dirname(os.path.abspath(data_dir)), "amqp-soak-broker.log")
    broker = Broker(args.binary, data_dir, args.port, args.set, log_path)
    try:
        broker.spawn()
        t0 = time.monotonic()
        while True:
            try:
                declare(broker)
                break
            except (OSError, pika.exceptions.AMQPError):
                if time.monotonic() - t0 > 30:
                    raise
                time.sleep(0.05)
        broker.stop()
        soak = Soak(args, broker)
        restarts = soak.run_cycles()
        final_restart, stored, consumed_ready = soak.final_check()
    finally:
        broker.kill9()

    led = soak.ledger
    confirmed = led.confirmed
    lost_consumed = sorted(m for m in confirmed if led.deliveries[m] == 0)
    lost_unconsumed = sorted(m for m in confirmed if stored[m] == 0)
    stored_twice = sorted(m for m, n in stored.items() if n > 1)
    duplicated = len(stored_twice) + len(led.ack_violations)
    restarts.append(final_restart)
    print()
    print(f"cycles           {args.cycles} (kill -9 each), broker {args.binary}, settings {args.set or 'defaults'}")
    print(f"confirmed        {len(confirmed)}")
    print(f"lost             {len(lost_consumed) + len(lost_unconsumed)} "
          f"(consumed queue {len(lost_consumed)}, unconsumed queue {len(lost_unconsumed)})")
    print(f"duplicated       {duplicated} (stored twice {len(stored_twice)}, "
          f"redelivered after a promised ack {len(led.ack_violations)})")
    print(f"unflagged        {len(led.unflagged)} (of {led.redelivered} redeliveries; "
          f"{led.flagged_first} first deliveries arrived flagged)")
    print(f"acks lost        {led.acked_redelivered} acked messages delivered again; the oldest of "
          f"those acks was sent {led.max_lost_ack_age * 1000:.1f} ms before the kill")
    print(f"restart          max {max(restarts):.3f} s, median {sorted(restarts)[len(restarts) // 2]:.3f} s "
          f"(unconsumed queue at the end: {sum(stored.values())} messages)")
    if consumed_ready:
        print(f"note: the consumed queue still reported {consumed_ready} ready messages at the end")
    for name, items in (("lost (consumed)", lost_consumed), ("lost (unconsumed)", lost_unconsumed),
                        ("stored twice", stored_twice), ("ack violations", led.ack_violations),
                        ("unflagged", led.unflagged)):
        if items:
            print(f"  first {name}: {items[:10]}")
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    bad = lost_consumed or lost_unconsumed or duplicated or led.unflagged
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
