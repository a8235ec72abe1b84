"""One test per direction between AMQP 0-9-1 (pika), MQTT 5 (paho) and Kafka
(confluent-kafka) through one broker: body bytes, headers/properties and order, per the
mapping in docs/cross-protocol.md (records/src/crossing.rs, records/src/message.rs)."""

import os

import pika
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from paho.mqtt.packettypes import PacketTypes

from mqttkit import prop, props

N = 3


def kafka():
    return os.environ["TRIDENT_KAFKA"]


def create_topic(name, config=None):
    admin = AdminClient({"bootstrap.servers": kafka()})
    fs = admin.create_topics([NewTopic(name, 1, 1, config=config or {})])
    fs[name].result(20)


def kafka_read(topic, n):
    c = Consumer({"bootstrap.servers": kafka(), "group.id": "g-" + topic,
                  "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    got = []
    for _ in range(100):
        if len(got) == n:
            break
        m = c.poll(0.5)
        if m is not None and m.error() is None:
            got.append(m)
    c.close()
    assert len(got) == n, f"{len(got)} of {n} records"
    return got


def produce(topic, records):
    p = Producer({"bootstrap.servers": kafka()})
    for key, value, headers, ts in records:
        p.produce(topic, value=value, key=key, headers=headers, timestamp=ts)
    assert p.flush(20) == 0


def amqp_queue(ch, key):
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, "amq.topic", key)
    return q


def amqp_read(ch, q, n):
    got = []
    for m, p, body in ch.consume(q, auto_ack=True, inactivity_timeout=10):
        if m is None:
            break
        got.append((m, p, body))
        if len(got) == n:
            break
    ch.cancel()
    assert len(got) == n, f"{len(got)} of {n} AMQP deliveries"
    return got


def amqp_props(i):
    return pika.BasicProperties(
        delivery_mode=2,
        content_type="application/json",
        correlation_id=f"corr-{i}",
        reply_to="replies",
        expiration="60000",
        message_id=f"m-{i}",
        timestamp=1_700_000_000 + i,
        headers={"s": f"v{i}", "n": i, "b": b"\xff\x00"},
    )


def mqtt_props(i, u):
    # The payloads are UTF-8: the payload format indicator says so.
    return props(
        PacketTypes.PUBLISH,
        UserProperty=[("k", f"v{i}"), ("k", "dup")],
        ContentType="text/plain",
        ResponseTopic=f"resp/{u}",
        CorrelationData=b"\x00\xff" if i == 0 else f"corr-{i}".encode(),
        MessageExpiryInterval=60,
        PayloadFormatIndicator=1,
    )


def test_amqp_to_mqtt(ch, mqtt, u):
    sub = mqtt("sub")
    sub.subscribe(f"a2m/{u}/#", qos=1)
    for i in range(N):
        ch.basic_publish("amq.topic", f"a2m.{u}.x", bytes([i, 0xff]), amqp_props(i))
    got = sub.collect(N)
    for i, m in enumerate(got):
        assert m.topic == f"a2m/{u}/x" and m.payload == bytes([i, 0xff]) and m.qos == 1
        assert prop(m, "ContentType") == "application/json"
        assert prop(m, "CorrelationData") == f"corr-{i}".encode()
        assert prop(m, "ResponseTopic") == "$queue/replies"
        assert 0 < prop(m, "MessageExpiryInterval") <= 60
        assert prop(m, "UserProperty") == [
            ("s", f"v{i}"), ("n", str(i)), ("b", "/wA="),
            ("trident-message-id", f"m-{i}"),
            ("trident-amqp-timestamp", str(1_700_000_000 + i)),
        ]


def test_mqtt_to_amqp(ch, mqtt, u):
    q = amqp_queue(ch, f"m2a.{u}.#")
    pub = mqtt("pub")
    for i in range(N):
        pub.publish(f"m2a/{u}/x", f"{i}-ü".encode(), qos=1, properties=mqtt_props(i, u))
    for i, (m, p, body) in enumerate(amqp_read(ch, q, N)):
        assert body == f"{i}-ü".encode() and m.routing_key == f"m2a.{u}.x"
        assert p.delivery_mode == 2 and p.content_type == "text/plain"
        assert p.reply_to == f"/topic/resp.{u}"
        assert p.expiration == "60000"
        h = p.headers
        assert h["x-mqtt-publish-qos"] == 1
        assert h["x-reply-to-topic"] == f"resp.{u}"
        assert h["trident-payload-format"] == "utf-8"
        assert h["k"] in (f"v{i}", "dup")
        if i == 0:
            assert p.correlation_id is None and h["x-correlation-id"] == b"\x00\xff"
        else:
            assert p.correlation_id == f"corr-{i}" and "x-correlation-id" not in h


def test_amqp_to_kafka(ch, u):
    topic = f"a2k-{u}"
    create_topic(topic)
    ch.queue_bind(topic, "amq.topic", f"a2k.{u}")
    ch.confirm_delivery()
    for i in range(N):
        ch.basic_publish("amq.topic", f"a2k.{u}", bytes([i, 0xfd]), amqp_props(i))
    for i, r in enumerate(kafka_read(topic, N)):
        assert r.value() == bytes([i, 0xfd]) and r.key() is None
        assert r.headers() == [
            ("s", f"v{i}".encode()), ("n", str(i).encode()), ("b", b"\xff\x00"),
            ("trident-content-type", b"application/json"),
            ("trident-correlation-id", f"corr-{i}".encode()),
            ("trident-reply-to", b"replies"),
            ("trident-expiration", b"60000"),
            ("trident-message-id", f"m-{i}".encode()),
            ("trident-amqp-timestamp", str(1_700_000_000 + i).encode()),
            ("trident-exchange", b"amq.topic"),
            ("trident-routing-key", f"a2k.{u}".encode()),
        ]


def test_kafka_to_amqp(ch, u):
    topic = f"k2a-{u}"
    q = amqp_queue(ch, f"k2a.{u}.#")
    create_topic(topic, {"trident.forward.exchange": "amq.topic"})
    ts = 1_750_000_000_123
    produce(topic, [(f"k2a.{u}.{i}", bytes([i, 0xfc]),
                     [("unit", b"celsius"), ("bin", b"\xff"),
                      ("trident-content-type", b"text/plain"),
                      ("trident-correlation-id", f"c-{i}".encode())], ts + i)
                    for i in range(N)])
    for i, (m, p, body) in enumerate(amqp_read(ch, q, N)):
        assert body == bytes([i, 0xfc]) and m.routing_key == f"k2a.{u}.{i}"
        assert p.headers == {"unit": "celsius", "bin": b"\xff"}
        assert p.content_type == "text/plain" and p.correlation_id == f"c-{i}"
        assert p.timestamp == (ts + i) // 1000, "the record time, in seconds"
        assert p.delivery_mode == 2


def test_mqtt_to_kafka(ch, mqtt, u):
    topic = f"m2k-{u}"
    create_topic(topic)
    ch.queue_bind(topic, "amq.topic", f"m2k.{u}")
    pub = mqtt("pub")
    for i in range(N):
        pub.publish(f"m2k/{u}", f"{i}-ü".encode(), qos=1, properties=mqtt_props(i, u))
    for i, r in enumerate(kafka_read(topic, N)):
        assert r.value() == f"{i}-ü".encode()
        h = r.headers()
        corr = b"\x00\xff" if i == 0 else f"corr-{i}".encode()
        assert h == [
            ("x-mqtt-publish-qos", b"1"),
            ("trident-content-type", b"text/plain"),
            ("trident-reply-to", f"/topic/resp.{u}".encode()),
            ("trident-response-topic", f"resp/{u}".encode()),
            ("trident-correlation-data", corr),
            ("trident-message-expiry", b"60"),
            ("trident-payload-format", b"utf-8"),
            ("trident-exchange", b"amq.topic"),
            ("trident-routing-key", f"m2k.{u}".encode()),
            ("k", f"v{i}".encode()), ("k", b"dup"),
        ]


def test_kafka_to_mqtt(mqtt, u):
    topic = f"k2m-{u}"
    sub = mqtt("sub")
    sub.subscribe(f"k2m/{u}/+", qos=1)
    create_topic(topic, {"trident.forward.exchange": "amq.topic"})
    ts = 1_750_000_000_999
    produce(topic, [(f"k2m.{u}.{i}", bytes([i, 0xfa]),
                     [("unit", b"celsius"), ("bin", b"\xff"),
                      ("trident-correlation-id", f"c-{i}".encode()),
                      ("trident-reply-to", b"rq")], ts + i)
                    for i in range(N)])
    for i, m in enumerate(sub.collect(N)):
        assert m.topic == f"k2m/{u}/{i}" and m.payload == bytes([i, 0xfa]) and m.qos == 1
        assert prop(m, "CorrelationData") == f"c-{i}".encode()
        assert prop(m, "ResponseTopic") == "$queue/rq"
        assert prop(m, "UserProperty") == [
            ("unit", "celsius"), ("bin", "/w=="),
            ("trident-amqp-timestamp", str((ts + i) // 1000)),
        ]
