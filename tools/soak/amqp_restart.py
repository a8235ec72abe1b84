#!/usr/bin/env python3
"""AMQP restart time with a deep durable backlog: how long a Trident broker killed with
`kill -9` takes to serve again.

Fills one durable queue with N persistent messages (several pika publishers, no
consumer), checks the queue holds all N, then R times: `kill -9` the broker, spawn it on
the same data directory and measure

  accept       spawn -> the AMQP port accepts a TCP connection
  declare      spawn -> a passive queue.declare answers (the queue is recovered; its
               message count is checked against N)
  first        spawn -> the first message of the queue arrives at a consumer

`--cold` evicts the data directory's files from the page cache before each start
(posix_fadvise DONTNEED on those files only, as after a reboot); a `--data-dir` that
already holds the filled queue is reused without filling it again.

Needs pika and a release build (`cargo build --release -p trident`):

  python3 tools/soak/amqp_restart.py --messages 1000000 [--cold]

Ports: --port (AMQP) and the three after it (HTTP, Kafka, MQTT), all on 127.0.0.1.
"""

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

try:
    import pika
    import pika.exceptions
except ImportError:  # pragma: no cover - environment problem, not a result
    sys.exit("amqp_restart.py needs pika: pip install pika")

QUEUE = "restart.deep"


def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Broker:
    def __init__(self, binary, data_dir, port, log_path):
        self.binary, self.data_dir, self.port, self.log_path = binary, data_dir, port, log_path
        self.proc = None

    def spawn(self):
        p = self.port
        cmd = [self.binary, "serve", "--data-dir", self.data_dir,
               "--amqp-listen", f"127.0.0.1:{p}", "--http-listen", f"127.0.0.1:{p + 1}",
               "--kafka-listen", f"127.0.0.1:{p + 2}", "--mqtt-listen", f"127.0.0.1:{p + 3}"]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        return time.monotonic()

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def params(self):
        return pika.ConnectionParameters("127.0.0.1", self.port, heartbeat=0,
                                         blocked_connection_timeout=None)


def wait_accept(port, deadline):
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return time.monotonic()
        except OSError:
            time.sleep(0.002)
    raise TimeoutError("the AMQP port never accepted")


def retry(fn, deadline):
    while True:
        try:
            return fn()
        except (OSError, pika.exceptions.AMQPError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def count(broker):
    conn = pika.BlockingConnection(broker.params())
    try:
        return conn.channel().queue_declare(QUEUE, passive=True).method.message_count
    finally:
        conn.close()


def count_or_none(broker):
    try:
        return count(broker)
    except pika.exceptions.ChannelClosedByBroker:
        return None


def fill(broker, n, size, publishers):
    conn = pika.BlockingConnection(broker.params())
    conn.channel().queue_declare(QUEUE, durable=True)
    conn.close()
    body = b"x" * size
    props = pika.BasicProperties(delivery_mode=2)

    def publish(k):
        c = pika.BlockingConnection(broker.params())
        ch = c.channel()
        for _ in range(k):
            ch.basic_publish("", QUEUE, body, props)
        c.close()

    share = [n // publishers + (1 if i < n % publishers else 0) for i in range(publishers)]
    threads = [threading.Thread(target=publish, args=(k,)) for k in share]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Publishes without confirms: wait until the queue holds them all.
    while count(broker) < n:
        time.sleep(0.2)
    return time.monotonic() - t0


def evict(data_dir):
    for d, _, files in os.walk(data_dir):
        for f in files:
            fd = os.open(os.path.join(d, f), os.O_RDONLY)
            try:
                os.fsync(fd)  # dirty pages cannot be dropped
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def restart_once(broker, n, cold):
    broker.kill9()
    if cold:
        evict(broker.data_dir)
    t0 = broker.spawn()
    deadline = t0 + 120
    accept = wait_accept(broker.port, deadline) - t0
    got = retry(lambda: count(broker), deadline)
    declare = time.monotonic() - t0
    conn = retry(lambda: pika.BlockingConnection(broker.params()), deadline)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1)
    first = None
    for method, _props, _body in ch.consume(QUEUE, inactivity_timeout=60):
        if method is not None:
            first = time.monotonic() - t0
        break
    conn.close()
    if got != n:
        sys.exit(f"the queue holds {got} messages after the restart, expected {n}")
    if first is None:
        sys.exit("no message arrived within 60 s of the restart")
    return accept, declare, first


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--size", type=int, default=300, help="body bytes")
    p.add_argument("--publishers", type=int, default=4)
    p.add_argument("--restarts", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="evict the data from the page cache before each start")
    p.add_argument("--port", type=int, default=42300)
    p.add_argument("--binary", default=os.path.join(repo_root(), "target/release/trident"))
    p.add_argument("--data-dir", help="kept afterwards when given; default: a temporary dir")
    args = p.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: cargo build --release -p trident first")
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="trident-amqp-restart-")
        data_dir = os.path.join(tmp, "data")
    log_path = os.path.join(tmp or os.path.dirname(os.path.abspath(data_dir)), "amqp-restart-broker.log")
    broker = Broker(args.binary, data_dir, args.port, log_path)
    try:
        t0 = broker.spawn()
        wait_accept(args.port, t0 + 60)
        retry(lambda: pika.BlockingConnection(broker.params()).close(), t0 + 60)
        reused = count_or_none(broker) == args.messages
        if not reused:
            took = fill(broker, args.messages, args.size, args.publishers)
        disk = sum(os.path.getsize(os.path.join(d, f))
                   for d, _, fs in os.walk(os.path.join(data_dir, "queues")) for f in fs)
        how = "reused" if reused else f"filled in {took:.1f} s"
        print(f"{args.messages} x {args.size} B persistent messages ({how}); "
              f"queue files {disk / 1e6:.0f} MB")
        rows = []
        for i in range(args.restarts):
            rows.append(restart_once(broker, args.messages, args.cold))
            a, d, f = rows[-1]
            print(f"restart {i + 1}: accept {a:.3f} s, declare {d:.3f} s, first delivery {f:.3f} s",
                  flush=True)
        per_million = 1e6 / args.messages
        worst = [max(r[k] for r in rows) for k in range(3)]
        per = (f" (per million messages: {worst[2] * per_million:.3f} s to first delivery)"
               if args.messages >= 100_000 else "")
        print(f"{'cold' if args.cold else 'warm'} page cache; worst of {args.restarts}: "
              f"accept {worst[0]:.3f} s, declare {worst[1]:.3f} s, first delivery {worst[2]:.3f} s{per}")
    finally:
        broker.kill9()
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
