#!/usr/bin/env python3
"""MQTT crash soak: N `kill -9` cycles of a Trident broker under QoS 1 and QoS 2 load.

Two publisher/subscriber pairs (paho-mqtt 2.x), one at QoS 1 and one at QoS 2, each on
its own topic. Every client has a persistent session (3.1.1: clean session off; 5.0:
clean start off and a one-hour session expiry) and a fixed client id, and is never
restarted: paho keeps its unacknowledged publishes (and, at QoS 2, the PUBREL it owes)
across reconnects and resends them, and the subscriber's broker-side session queues what
arrives while it is away. The broker is killed with SIGKILL after a random 0.5-2.5 s of
load and started again on the same data directory and ports. After the last cycle the
publishers stop, everything still owed is drained, and the script prints per QoS:

  acknowledged  publishes whose PUBACK (QoS 1) or PUBCOMP (QoS 2) arrived
  lost          acknowledged publishes the subscriber never received
  duplicated    publishes the subscriber received more than once (allowed at QoS 1,
                at-least-once; must be 0 at QoS 2, exactly-once)
  restart       the longest time from spawning the broker to a CONNACK on its MQTT port

Needs paho-mqtt 2.x (e.g. /tmp/mqtt-venv/bin/python, or `pip install paho-mqtt`) and a
built broker:

  cargo build --release -p trident
  python3 tools/soak/mqtt_soak.py --cycles 20

Exit status 0 when nothing acknowledged was lost and nothing at QoS 2 was duplicated.
"""

import argparse
import collections
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time

from broker_process import BrokerProcess, repo_root

try:
    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
except ImportError:  # pragma: no cover - environment problem, not a soak result
    sys.exit("mqtt_soak.py needs paho-mqtt 2.x: pip install paho-mqtt "
             "(or use /tmp/mqtt-venv/bin/python)")


class Broker(BrokerProcess):
    """The broker under test, mqtt on the given port."""

    def __init__(self, binary, data_dir, port, settings, log_path):
        super().__init__("mqtt", binary, data_dir, port, settings, log_path)


def probe_connack(port, timeout=0.5):
    """True when a raw MQTT 3.1.1 CONNECT (clean session) on 127.0.0.1:port gets a
    successful CONNACK. Raw bytes, so that no client library's retry timer is measured."""
    cid = b"soak-probe"
    var = b"\x00\x04MQTT\x04\x02\x00\x3c" + len(cid).to_bytes(2, "big") + cid
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(bytes([0x10, len(var)]) + var)
            got = b""
            while len(got) < 4:
                chunk = s.recv(4 - len(got))
                if not chunk:
                    return False
                got += chunk
            s.sendall(b"\xe0\x00")  # DISCONNECT
            return got[0] == 0x20 and got[3] == 0
    except OSError:
        return False


def listen_failed(broker):
    with open(broker.log_path, "rb") as f:
        f.seek(max(0, os.path.getsize(broker.log_path) - 4096))
        return b"cannot listen" in f.read()


def wait_serving(broker, timeout=60.0):
    """Seconds from now (or from the last respawn) until the broker answers a CONNECT
    with a successful CONNACK."""
    t0 = time.monotonic()
    respawns = 0
    while time.monotonic() - t0 < timeout:
        if broker.proc.poll() is not None:
            # Our ports lie in the ephemeral range: another program's outgoing
            # connection can hold one for a while. That is not the broker's restart
            # time; wait and spawn again.
            if listen_failed(broker) and respawns < 50:
                respawns += 1
                print(f"note: a port of {broker.ports} is taken; spawning again", flush=True)
                time.sleep(0.5)
                broker.spawn()
                t0 = time.monotonic()
                continue
            raise RuntimeError(f"broker exited with {broker.proc.returncode}; see {broker.log_path}")
        if probe_connack(broker.port):
            return time.monotonic() - t0
        time.sleep(0.005)
    raise RuntimeError("broker did not come up")


def make_client(args, client_id):
    kw = {}
    if args.protocol != 5:
        kw["clean_session"] = False
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=mqtt.MQTTv5 if args.protocol == 5 else mqtt.MQTTv311,
        **kw,
    )
    # Reconnect quickly once the broker is back: the soak measures the broker, not
    # paho's back-off.
    c.reconnect_delay_set(min_delay=0.05, max_delay=0.2)
    c.max_inflight_messages_set(args.in_flight)
    c.max_queued_messages_set(0)
    return c


def connect(args, c, port):
    kw = {}
    if args.protocol == 5:
        p = Properties(PacketTypes.CONNECT)
        p.SessionExpiryInterval = 3600
        kw = {"clean_start": False, "properties": p}
    # connect_async + loop_start: paho's thread connects and keeps reconnecting after
    # every kill.
    c.connect_async("127.0.0.1", port, 30, **kw)
    c.loop_start()


class Pair:
    """A publisher and a subscriber at one QoS on one topic."""

    def __init__(self, args, qos, tag, port):
        self.args, self.qos, self.port = args, qos, port
        self.topic = f"soak/{tag}/q{qos}"
        self.received = collections.Counter()
        self.first_as = {}  # number -> (packet id, dup) of its first reception
        self.seen_as = {}  # number -> the same, for every later reception
        self.recv_lock = threading.Lock()
        self.last_receive = time.monotonic()
        self.sent = []  # (number, MQTTMessageInfo)
        self.subscribed = threading.Event()
        self.stop = threading.Event()
        self.sub = make_client(args, f"soak-{tag}-sub-q{qos}")
        self.pub = make_client(args, f"soak-{tag}-pub-q{qos}")
        self.sub.on_connect = self._sub_connected
        self.sub.on_subscribe = lambda *_a: self.subscribed.set()
        self.sub.on_message = self._on_message

    def _sub_connected(self, c, _u, flags, reason, _props):
        # The session keeps the subscription; subscribing again only when the broker
        # says it has no session (the first connect, or a lost session: then messages
        # routed while it was gone are lost, and the count shows it).
        if not reason.is_failure and not flags.session_present:
            c.subscribe(self.topic, qos=self.qos)

    def _on_message(self, _c, _u, msg):
        n = int(msg.payload[:msg.payload.index(b"|")])
        with self.recv_lock:
            self.received[n] += 1
            if self.received[n] > 1 or n in self.seen_as:
                # Keep how each copy came (packet id, DUP flag) for the report: it
                # tells a broker resend with the same id from a new delivery.
                self.seen_as.setdefault(n, []).append((msg.mid, bool(msg.dup)))
            else:
                self.first_as[n] = (msg.mid, bool(msg.dup))
            self.last_receive = time.monotonic()

    def start(self):
        connect(self.args, self.sub, self.port)
        if not self.subscribed.wait(30):
            raise RuntimeError(f"no SUBACK for {self.topic}")
        connect(self.args, self.pub, self.port)
        self.thread = threading.Thread(target=self._publish_loop, daemon=True)
        self.thread.start()

    def _publish_loop(self):
        pad = b"x" * max(0, self.args.size - 12)
        pending = collections.deque()
        n = 0
        while not self.stop.is_set():
            # Our own window: at most --in-flight publishes not yet acknowledged, so
            # that a kill leaves a bounded, known set in flight.
            while pending and pending[0].is_published():
                pending.popleft()
            if len(pending) >= self.args.in_flight:
                time.sleep(0.001)
                continue
            info = self.pub.publish(self.topic, b"%d|" % n + pad, qos=self.qos)
            if info.rc == mqtt.MQTT_ERR_NO_CONN:
                # Not connected (the broker is down): paho keeps a QoS 1/2 publish and
                # sends it after reconnecting, but its info would then raise on
                # is_published() forever; mark it as what it is, queued.
                info.rc = mqtt.MQTT_ERR_SUCCESS
            self.sent.append((n, info))
            pending.append(info)
            n += 1

    def acknowledged(self):
        return [n for n, info in self.sent if info.is_published()]

    def close(self):
        for c in (self.pub, self.sub):
            c.disconnect()
            c.loop_stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", type=int, default=20)
    p.add_argument("--binary", default=os.path.join(repo_root(), "target/release/trident"))
    p.add_argument("--data-dir", help="kept afterwards when given; default: a temporary dir")
    p.add_argument("--port", type=int, default=50100,
                   help="MQTT port; HTTP, AMQP and Kafka take the next three")
    p.add_argument("--protocol", type=int, choices=(311, 5), default=311)
    p.add_argument("--size", type=int, default=100, help="payload bytes")
    p.add_argument("--in-flight", type=int, default=100,
                   help="unacknowledged publishes per publisher")
    p.add_argument("--min-run", type=float, default=0.5, help="seconds of load before a kill, at least")
    p.add_argument("--max-run", type=float, default=2.5, help="... and at most")
    p.add_argument("--drain", type=float, default=10.0,
                   help="seconds without a new delivery before the missing ones count as lost")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="broker setting (repeatable), e.g. durability=interval")
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"no broker binary at {args.binary}; run `cargo build --release` first")

    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.mkdtemp(prefix="mqtt-soak-")
        data_dir = os.path.join(tmp, "data")
    log_path = os.path.join(os.path.dirname(os.path.abspath(data_dir)), "mqtt-soak-broker.log")
    broker = Broker(args.binary, data_dir, args.port, args.set, log_path)
    rng = random.Random(args.seed)
    tag = f"{os.getpid()}"
    restarts = []
    pairs = []
    try:
        broker.spawn()
        wait_serving(broker)
        pairs = [Pair(args, q, tag, args.port) for q in (1, 2)]
        for pr in pairs:
            pr.start()
        for c in range(args.cycles):
            time.sleep(rng.uniform(args.min_run, args.max_run))
            broker.kill9()
            broker.spawn()
            restarts.append(wait_serving(broker))
            line = ", ".join(
                f"q{pr.qos} sent {len(pr.sent)} acked {len(pr.acknowledged())}" for pr in pairs)
            print(f"cycle {c + 1}/{args.cycles}: restart {restarts[-1]:.3f} s, {line}", flush=True)
        # Load after the last restart too, so that its resends are exercised.
        time.sleep(args.min_run)
        for pr in pairs:
            pr.stop.set()
            pr.thread.join()
        # Drain: wait for the publishers' outstanding acknowledgements, then for the
        # deliveries, until --drain seconds pass without a new one.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                not info.is_published() for pr in pairs for _, info in pr.sent[-args.in_flight:]):
            time.sleep(0.05)
        for pr in pairs:
            while True:
                with pr.recv_lock:
                    quiet = time.monotonic() - pr.last_receive
                    have = set(pr.received)
                if all(n in have for n in pr.acknowledged()) or quiet > args.drain:
                    break
                time.sleep(0.05)
        for pr in pairs:
            pr.close()
        broker.stop()
    finally:
        broker.kill9()

    bad = 0
    print()
    print(f"cycles           {args.cycles} (kill -9 each), MQTT {'5.0' if args.protocol == 5 else '3.1.1'}, "
          f"broker {args.binary}, settings {args.set or 'defaults'}")
    for pr in pairs:
        acked = pr.acknowledged()
        lost = [n for n in acked if pr.received[n] == 0]
        dups = sorted(n for n, k in pr.received.items() if k > 1)
        unacked_seen = sum(1 for n, info in pr.sent if not info.is_published() and pr.received[n])
        print(f"QoS {pr.qos}: sent {len(pr.sent)}, acknowledged {len(acked)}, "
              f"received {len(pr.received)} distinct, lost {len(lost)}, duplicated {len(dups)}"
              f" (delivered but never acknowledged: {unacked_seen})")
        if lost:
            print(f"  first lost: {lost[:10]}")
        if dups:
            print(f"  first duplicated: {dups[:10]}")
            for n in dups[:5]:
                print(f"    {n}: received as (packet id, dup) {[pr.first_as.get(n)] + pr.seen_as.get(n, [])}")
        bad += len(lost) + (len(dups) if pr.qos == 2 else 0)
    if restarts:
        print(f"restart          max {max(restarts):.3f} s, median "
              f"{statistics.median(restarts):.3f} s over {len(restarts)} restarts")
    if tmp is not None and not bad:
        shutil.rmtree(tmp, ignore_errors=True)
    elif tmp is not None:
        print(f"data and broker log kept in {tmp}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
