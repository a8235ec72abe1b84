"""Resource alarms raised and cleared at run time through the management API
(`PUT /api/nodes/{node}/vm_memory_high_watermark`), seen by real Kafka and MQTT
clients: tests/alarms.rs starts a broker with the default watermark (0.4 of the
memory), each test lowers it to 1 byte to raise the memory alarm, checks that
publishers are held and readers are not, then puts the watermark back and checks that
everything held was accepted once, in order."""

import base64
import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test --test alarms`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _api(method, path, body=None):
    host, port = _addr("TRIDENT_HTTP")
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            text = resp.read().decode()
            return resp.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode() or "null")


def _wait(what, cond, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Watermark:
    """The node's memory watermark: lowered to raise the alarm, restored to clear it."""

    def __init__(self):
        code, nodes = _api("GET", "/api/nodes")
        assert code == 200, nodes
        self.node = nodes[0]
        assert self.node["mem_alarm"] is False, f"the broker starts below its watermark: {self.node}"
        self.path = f"/api/nodes/{self.node['name']}/vm_memory_high_watermark"
        self.normal = self.node["vm_memory_high_watermark"]

    def raise_alarm(self):
        assert _api("PUT", self.path, {"absolute": 1})[0] == 204
        # Re-evaluated when the PUT is answered, not at the next measurement.
        assert _api("GET", "/api/overview")[1]["mem_alarm"] is True

    def clear_alarm(self):
        assert _api("PUT", self.path, self.normal)[0] == 204
        assert _api("GET", "/api/overview")[1]["mem_alarm"] is False


@pytest.fixture
def watermark():
    w = Watermark()
    yield w
    # A failed test must not leave the next one under an alarm.
    _api("PUT", w.path, w.normal)


def _topic(name):
    code, body = _api("PUT", f"/api/topics/{name}", {"partitions": 1})
    assert code == 201, body


def test_a_kafka_producer_is_held_and_nothing_is_lost(watermark):
    from confluent_kafka import Consumer, Producer, TopicPartition

    host, port = _addr("TRIDENT_KAFKA")
    bootstrap = f"{host}:{port}"
    topic = "alarm-kafka-" + os.urandom(4).hex()
    _topic(topic)
    reports = []
    lock = threading.Lock()

    def on_delivery(err, msg):
        with lock:
            reports.append((err, msg.value()))

    producer = Producer({
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
    })
    before, during = 20, 50
    for i in range(before):
        producer.produce(topic, value=b"%d" % i, on_delivery=on_delivery)
    assert producer.flush(30) == 0
    assert [e for e, _ in reports] == [None] * before

    watermark.raise_alarm()
    for i in range(before, before + during):
        producer.produce(topic, value=b"%d" % i, on_delivery=on_delivery)
    # Held: the broker does not read the producer's connection, so no answer and no
    # delivery report comes while the alarm lasts.
    until = time.monotonic() + 3
    while time.monotonic() < until:
        producer.poll(0.1)
    assert len(reports) == before, "a produce request was answered during the alarm"

    # Fetching goes on, on its own connection: what was acknowledged is readable.
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "alarm-reader-" + os.urandom(4).hex(),
        "enable.auto.commit": False,
    })
    consumer.assign([TopicPartition(topic, 0, 0)])
    got = []

    def read(n, timeout=30):
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            m = consumer.poll(0.5)
            if m is not None and m.error() is None:
                got.append(m.value())
        assert len(got) >= n, f"read {len(got)} of {n} records"

    read(before)
    assert got == [b"%d" % i for i in range(before)]
    assert len(reports) == before, "still held while a consumer reads"

    watermark.clear_alarm()
    assert producer.flush(60) == 0, "every held record is acknowledged once released"
    assert len(reports) == before + during
    assert [e for e, _ in reports] == [None] * (before + during)
    read(before + during)
    assert got == [b"%d" % i for i in range(before + during)], "in order, none lost"
    # None duplicated: the log holds exactly what was produced.
    _, t = _api("GET", f"/api/topics/{topic}")
    assert t["partition_details"][0]["end_offset"] == before + during, t
    consumer.close()


def test_an_old_kafka_producer_is_told_the_throttle_time(watermark, caplog):
    """Produce v3-v5 answers carry the time the request was held as throttle_time_ms
    (kafka-python pinned to 0.11 speaks Produce v3 and logs what it is told)."""
    import logging

    from kafka import KafkaProducer

    host, port = _addr("TRIDENT_KAFKA")
    topic = "alarm-throttle-" + os.urandom(4).hex()
    _topic(topic)
    producer = KafkaProducer(bootstrap_servers=f"{host}:{port}", api_version=(0, 11, 0),
                             acks=1, linger_ms=0)
    producer.send(topic, b"before").get(timeout=30)
    caplog.set_level(logging.WARNING, logger="kafka.conn")
    watermark.raise_alarm()
    held = producer.send(topic, b"held")
    time.sleep(1.5)
    assert not held.is_done, "a produce request was answered during the alarm"
    watermark.clear_alarm()
    meta = held.get(timeout=30)
    assert meta.offset == 1
    told = [r.getMessage() for r in caplog.records if "throttled by broker" in r.getMessage()]
    assert told, "no throttle time reported"
    ms = int(told[-1].rsplit("(", 1)[1].split()[0])
    assert ms >= 1000, told
    producer.close(timeout=10)


def test_an_mqtt_qos1_publisher_is_held_and_released_in_order(watermark):
    import paho.mqtt.client as mqtt

    host, port = _addr("TRIDENT_MQTT")
    topic = "alarm/runtime/" + os.urandom(4).hex()
    got, subscribed = [], threading.Event()
    lock = threading.Lock()

    def on_message(_c, _u, m):
        with lock:
            got.append(m.payload)

    tag = os.urandom(3).hex()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rt-sub-" + tag)
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.on_message = on_message
    sub.connect(host, port)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    assert subscribed.wait(10)

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rt-pub-" + tag)
    pub.connect(host, port)
    pub.loop_start()
    before, during = 10, 30
    for i in range(before):
        info = pub.publish(topic, b"p%d" % i, qos=1)
        info.wait_for_publish(10)
        assert info.is_published()
    _wait("the messages before the alarm", lambda: len(got) >= before)

    watermark.raise_alarm()
    held = [pub.publish(topic, b"p%d" % i, qos=1) for i in range(before, before + during)]
    # A subscriber still gets messages: the first publish of a connection that has not
    # published yet is read (that is what makes it a publisher the alarm then holds).
    other = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="rt-other-" + tag)
    other.connect(host, port)
    other.loop_start()
    other.publish(topic, b"other", qos=0)
    _wait("the subscriber receiving during the alarm", lambda: b"other" in got)
    time.sleep(1.5)
    assert not any(h.is_published() for h in held), "PUBACK during the alarm"
    with lock:
        assert [m for m in got if m.startswith(b"p")] == [b"p%d" % i for i in range(before)]

    watermark.clear_alarm()
    for h in held:
        h.wait_for_publish(30)
        assert h.is_published()
    _wait("every held message", lambda: len([m for m in got if m.startswith(b"p")]) >= before + during)
    time.sleep(0.5)  # room for a duplicate to show, were there one
    with lock:
        mine = [m for m in got if m.startswith(b"p")]
    assert mine == [b"p%d" % i for i in range(before + during)], "once each, in order"
    for c in (pub, sub, other):
        c.loop_stop()
        c.disconnect()
