"""Stream queues over AMQP 0-9-1, as RabbitMQ users write them with pika: declare rules,
binding and publishing, every x-stream-offset form, prefetch as credit, resuming from a
chosen offset, retention, several partitions, and the same log read from Kafka
(confluent-kafka) both ways. The broker addresses come from TRIDENT_AMQP/KAFKA/HTTP."""

import base64
import json
import os
import time
import urllib.parse
import urllib.request

import pika
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

STREAM = {"x-queue-type": "stream"}


def connect(amqp_addr):
    host, port = amqp_addr
    return pika.BlockingConnection(
        pika.ConnectionParameters(
            host=host,
            port=port,
            credentials=pika.PlainCredentials("guest", "guest"),
            heartbeat=30,
        )
    )


@pytest.fixture
def conn(amqp_addr):
    c = connect(amqp_addr)
    yield c
    if c.is_open:
        c.close()


@pytest.fixture
def ch(conn):
    c = conn.channel()
    c.confirm_delivery()
    return c


def declare_stream(ch, name, **args):
    ch.queue_declare(name, durable=True, arguments={**STREAM, **args})


def publish(ch, exchange, key, body, **props):
    ch.basic_publish(exchange, key, body, pika.BasicProperties(delivery_mode=2, **props))


def read(ch, queue, n, offset=None, prefetch=100, timeout=5, args=None):
    """The first n deliveries from a new consumer (acked), as (method, props, body)."""
    ch.basic_qos(prefetch_count=prefetch)
    arguments = dict(args or {})
    if offset is not None:
        arguments["x-stream-offset"] = offset
    got = []
    for method, props, body in ch.consume(queue, arguments=arguments, inactivity_timeout=timeout):
        if method is None:
            break
        got.append((method, props, body))
        ch.basic_ack(method.delivery_tag)
        if len(got) == n:
            break
    ch.cancel()
    return got


def offsets(got):
    return [p.headers["x-stream-offset"] for _m, p, _b in got]


def closed_with(conn_or_ch, fn, code):
    with pytest.raises((pika.exceptions.ChannelClosedByBroker, pika.exceptions.ConnectionClosedByBroker)) as e:
        fn()
    assert e.value.args[0] == code, e.value.args


def test_declare_rules(conn, unique):
    ch = conn.channel()
    declare_stream(ch, unique, **{"x-max-age": "7D", "x-max-length-bytes": 1 << 30})
    # The same arguments again: fine. One left out: not compared.
    declare_stream(ch, unique, **{"x-max-age": "7D", "x-max-length-bytes": 1 << 30})
    ok = ch.queue_declare(unique, durable=True, arguments=STREAM)
    assert ok.method.message_count == 0
    # Different retention: 406, as RabbitMQ answers an inequivalent redeclare.
    closed_with(ch, lambda: declare_stream(ch, unique, **{"x-max-age": "1D"}), 406)
    for kwargs in (
        {"durable": False},
        {"durable": True, "exclusive": True},
        {"durable": True, "auto_delete": True},
    ):
        ch = conn.channel()
        closed_with(
            ch, lambda: ch.queue_declare(unique + "-p", arguments=STREAM, **kwargs), 406
        )
    for bad in ({"x-max-age": "soon"}, {"x-max-length": 10}, {"x-message-ttl": 5}, {"x-partitions": 0}):
        ch = conn.channel()
        closed_with(ch, lambda: declare_stream(ch, unique + "-b", **bad), 406)
    # A classic declaration of a stream's name, and a stream over a classic queue.
    ch = conn.channel()
    closed_with(ch, lambda: ch.queue_declare(unique, durable=True), 406)
    ch = conn.channel()
    ch.queue_declare(unique + "-classic", durable=True)
    closed_with(ch, lambda: declare_stream(ch, unique + "-classic"), 406)
    ch = conn.channel()
    ch.queue_delete(unique + "-classic")
    ch.queue_delete(unique)


def test_bind_publish_and_every_offset_form(conn, ch, unique):
    declare_stream(ch, unique)
    ch.exchange_declare(unique + ".x", "direct")
    ch.queue_bind(unique, unique + ".x", "k")
    for i in range(5):
        publish(ch, unique + ".x", "k", b"via-exchange-%d" % i)
    for i in range(5, 10):
        publish(ch, "", unique, b"via-default-%d" % i)
    assert ch.queue_declare(unique, passive=True).method.message_count == 10

    got = read(ch, unique, 10, "first")
    assert [b for _m, _p, b in got] == [b"via-exchange-%d" % i for i in range(5)] + [
        b"via-default-%d" % i for i in range(5, 10)
    ]
    assert offsets(got) == list(range(10))
    first = got[0]
    assert first[0].exchange == unique + ".x" and first[0].routing_key == "k"
    assert got[5][0].exchange == "" and got[5][0].routing_key == unique
    assert first[1].delivery_mode == 2 and first[1].timestamp is not None

    # An integer offset; "last" (the last chunk: each confirmed publish is one here);
    # the default is "next".
    assert offsets(read(ch, unique, 10, 6)) == [6, 7, 8, 9]
    assert offsets(read(ch, unique, 10, "last", timeout=1)) == [9]
    assert read(ch, unique, 1, None, timeout=1) == []
    assert read(ch, unique, 1, "next", timeout=1) == []

    # A timestamp (AMQP timestamp field, seconds), and an interval before now.
    time.sleep(1.1)
    cut = int(time.time())
    time.sleep(1.1)
    publish(ch, "", unique, b"late")
    got = read(ch, unique, 10, datetime_ts(cut), timeout=1)
    assert [b for _m, _p, b in got] == [b"late"]
    assert offsets(got) == [10]
    got = read(ch, unique, 20, "1h", timeout=1)
    assert len(got) == 11

    # "next" sees what comes after it started.
    ch.basic_qos(prefetch_count=10)
    seen = []
    tag = ch.basic_consume(
        unique, lambda c, m, p, b: seen.append((p, b)), arguments={"x-stream-offset": "next"}
    )
    ch.connection.process_data_events(time_limit=0.3)
    assert seen == []
    publish(ch, "", unique, b"after")
    deadline = time.time() + 5
    while not seen and time.time() < deadline:
        ch.connection.process_data_events(time_limit=0.1)
    assert [b for _p, b in seen] == [b"after"] and seen[0][0].headers["x-stream-offset"] == 11
    ch.basic_cancel(tag)

    # Reading removed nothing.
    assert ch.queue_declare(unique, passive=True).method.message_count == 12
    ch.queue_delete(unique)


def datetime_ts(secs):
    """pika encodes a datetime as the AMQP timestamp field type ('T')."""
    import datetime

    return datetime.datetime.fromtimestamp(secs, tz=datetime.timezone.utc).replace(tzinfo=None)


def test_consumers_need_prefetch_and_manual_acks(conn, unique):
    ch = conn.channel()
    declare_stream(ch, unique)
    closed_with(ch, lambda: ch.basic_consume(unique, lambda *a: None), 406)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=10)
    closed_with(ch, lambda: ch.basic_consume(unique, lambda *a: None, auto_ack=True), 406)
    ch = conn.channel()
    ch.basic_qos(prefetch_count=10)
    closed_with(ch, lambda: ch.basic_consume(unique, lambda *a: None, arguments={"x-stream-offset": "middle"}), 406)
    ch = conn.channel()
    ch.queue_delete(unique)
    # basic.get is refused as RabbitMQ refuses it (540 NOT_IMPLEMENTED, a connection error).
    declare_stream(ch, unique + "-g")
    closed_with(conn, lambda: ch.basic_get(unique + "-g"), 540)


def test_acks_move_the_credit(ch, unique):
    declare_stream(ch, unique)
    for i in range(10):
        publish(ch, "", unique, b"%d" % i)
    ch.basic_qos(prefetch_count=3)
    got = []
    ch.basic_consume(unique, lambda c, m, p, b: got.append(m), arguments={"x-stream-offset": "first"})

    def pump(want):
        # process_data_events returns as soon as any event was handled, so one call
        # may see only the first delivery: wait for `want`, then a moment longer for
        # any delivery beyond the credit to show.
        deadline = time.monotonic() + 10
        while len(got) < want and time.monotonic() < deadline:
            ch.connection.process_data_events(time_limit=0.2)
        ch.connection.process_data_events(time_limit=0.3)

    pump(3)
    assert len(got) == 3, "no more than the prefetch without acks"
    ch.basic_ack(got[0].delivery_tag)
    pump(4)
    assert len(got) == 4, "one ack, one more delivery"
    ch.basic_ack(got[-1].delivery_tag, multiple=True)
    pump(7)
    assert len(got) == 7
    ch.queue_delete(unique)


def test_a_restarted_consumer_resumes_where_it_chooses(amqp_addr, unique):
    c1 = connect(amqp_addr)
    ch = c1.channel()
    ch.confirm_delivery()
    declare_stream(ch, unique)
    for i in range(20):
        publish(ch, "", unique, b"m%d" % i)
    got = read(ch, unique, 8, "first")
    last = offsets(got)[-1]
    c1.close()  # the consumer "restarts": a new connection, its own bookkeeping
    c2 = connect(amqp_addr)
    ch = c2.channel()
    rest = read(ch, unique, 20, last + 1, timeout=1)
    assert [b for _m, _p, b in rest] == [b"m%d" % i for i in range(8, 20)]
    assert offsets(rest) == list(range(8, 20))
    ch.queue_delete(unique)
    c2.close()


def test_several_partitions(ch, unique):
    declare_stream(ch, unique, **{"x-partitions": 3})
    for i in range(30):
        publish(ch, "", unique, b"%d" % i)
    got = read(ch, unique, 30, "first")
    assert sorted(int(b) for _m, _p, b in got) == list(range(30))
    parts = {}
    for _m, p, b in got:
        parts.setdefault(p.headers["x-stream-partition"], []).append(p.headers["x-stream-offset"])
    assert sorted(parts) == [0, 1, 2]
    for offs in parts.values():
        assert offs == sorted(offs) and offs[0] == 0, "each partition in order"
    one = read(ch, unique, 30, "first", args={"x-stream-partition": 1}, timeout=1)
    assert {p.headers["x-stream-partition"] for _m, p, _b in one} == {1}
    assert len(one) == len(parts[1])
    ch.queue_delete(unique)


def test_retention_by_max_length_bytes(ch, unique):
    # Small segments so that whole segments fall out of a 4 KiB budget (the broker
    # under test applies retention every 200 ms).
    declare_stream(
        ch, unique, **{"x-max-length-bytes": 4096, "x-stream-max-segment-size-bytes": 1024}
    )
    for i in range(100):
        publish(ch, "", unique, b"%03d" % i + b"." * 200)
    # Retention runs while we publish; wait until two checks agree on what is left.
    counts = []
    deadline = time.time() + 10
    while time.time() < deadline and (len(counts) < 2 or counts[-1] != counts[-2]):
        time.sleep(0.5)
        counts.append(ch.queue_declare(unique, passive=True).method.message_count)
    count = counts[-1]
    # About 4 KiB of ~270-byte records stay, and at least the newest segment.
    assert 0 < count < 40, counts
    got = read(ch, unique, 100, "first", timeout=1)
    assert len(got) == count
    assert offsets(got)[0] == 100 - count and offsets(got)[-1] == 99
    assert got[-1][2].startswith(b"099")
    ch.queue_delete(unique)


def kafka_consumer(bs):
    return Consumer(
        {
            "bootstrap.servers": bs,
            "group.id": "g-" + str(time.time_ns()),
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )


def test_kafka_reads_an_amqp_stream(ch, kafka_addr, unique):
    declare_stream(ch, unique)
    props = dict(content_type="text/plain", correlation_id="c-7", headers={"unit": "celsius", "n": 3})
    publish(ch, "", unique, b"21.5", **props)
    c = kafka_consumer(kafka_addr)
    c.assign([TopicPartition(unique, 0, 0)])
    m = c.poll(10)
    assert m is not None and m.error() is None, m and m.error()
    assert m.value() == b"21.5" and m.offset() == 0
    headers = dict(m.headers())
    assert headers["unit"] == b"celsius" and headers["n"] == b"3"
    assert headers["trident-content-type"] == b"text/plain"
    assert headers["trident-correlation-id"] == b"c-7"
    assert headers["trident-routing-key"] == unique.encode()
    c.close()
    ch.queue_delete(unique)


def test_amqp_reads_a_kafka_topic(ch, kafka_addr, unique):
    admin = AdminClient({"bootstrap.servers": kafka_addr})
    admin.create_topics([NewTopic(unique, 1)])[unique].result(15)
    p = Producer({"bootstrap.servers": kafka_addr})
    ts = 1_700_000_123_456
    p.produce(unique, key=b"room1", value=b"v0", headers=[("unit", b"celsius"), ("raw", b"\xff\x00")], timestamp=ts)
    p.produce(unique, key=b"room2", value=b"v1", headers=[("trident-content-type", b"application/json")])
    p.flush(10)
    # Visible to AMQP as a stream queue: passive declare counts its records.
    assert ch.queue_declare(unique, passive=True).method.message_count == 2
    got = read(ch, unique, 2, "first")
    (m0, p0, b0), (m1, p1, b1) = got
    assert (b0, b1) == (b"v0", b"v1")
    assert m0.routing_key == "room1" and m1.routing_key == "room2"
    # UTF-8 header values are long strings, others byte arrays (docs/cross-protocol.md).
    assert p0.headers["unit"] == "celsius" and p0.headers["raw"] == b"\xff\x00"
    assert p0.headers["x-stream-offset"] == 0
    assert p0.timestamp == ts // 1000
    assert p1.content_type == "application/json"
    # It binds like any queue: an AMQP publish lands in the topic for Kafka.
    ch.exchange_declare(unique + ".x", "fanout")
    ch.queue_bind(unique, unique + ".x")
    publish(ch, unique + ".x", "", b"from-amqp")
    c = kafka_consumer(kafka_addr)
    c.assign([TopicPartition(unique, 0, 2)])
    m = c.poll(10)
    assert m is not None and m.value() == b"from-amqp"
    c.close()
    # queue.delete of the stream deletes the topic.
    ch.queue_delete(unique)
    md = admin.list_topics(timeout=10)
    assert unique not in md.topics
    with pytest.raises(pika.exceptions.ChannelClosedByBroker) as e:
        ch.queue_declare(unique, passive=True)
    assert e.value.args[0] == 404


def test_management_lists_streams(ch, unique):
    declare_stream(ch, unique, **{"x-max-length-bytes": 1 << 20})
    publish(ch, "", unique, b"x")
    host, port = os.environ["TRIDENT_HTTP"].rsplit(":", 1)
    req = urllib.request.Request(f"http://{host}:{port}/api/queues/%2F")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        queues = json.loads(r.read())
    mine = [q for q in queues if q["name"] == unique]
    assert len(mine) == 1
    assert mine[0]["type"] == "stream" and mine[0]["durable"] is True
    assert mine[0]["messages"] == 1
    assert mine[0]["arguments"]["x-max-length-bytes"] == 1 << 20
    path = "/api/queues/%2F/" + urllib.parse.quote(unique, safe="")
    req = urllib.request.Request(f"http://{host}:{port}{path}")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(req, timeout=10) as r:
        assert json.loads(r.read())["type"] == "stream"
    ch.queue_delete(unique)
