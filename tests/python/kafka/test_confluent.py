"""confluent-kafka (librdkafka) against Trident's Kafka listener: topics, keyed
partitioning, consumer groups and rebalances (including a killed member), commits,
rewinds, the four compression codecs, idempotence, timestamps, admin, SASL/SCRAM."""

import os
import signal
import subprocess
import sys
import time

import pytest
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition, OFFSET_BEGINNING
from confluent_kafka.admin import (
    AdminClient,
    ConfigResource,
    ConfigEntry,
    AlterConfigOpType,
    NewPartitions,
    NewTopic,
)


def admin(bs):
    return AdminClient({"bootstrap.servers": bs})


def create_topic(bs, name, partitions):
    a = admin(bs)  # the client must outlive its futures
    fs = a.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
    for f in fs.values():
        f.result(timeout=15)


def producer(bs, **extra):
    conf = {"bootstrap.servers": bs, "linger.ms": 5, "message.timeout.ms": 20000}
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Producer(conf)


def consumer(bs, group, **extra):
    conf = {
        "bootstrap.servers": bs,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 300,
        "fetch.wait.max.ms": 100,
    }
    conf.update({k.replace("_", "."): v for k, v in extra.items()})
    return Consumer(conf)


def produce_all(p, topic, records):
    """records: list of (key, value, timestamp or None). Returns [(partition, offset)]."""
    placed = [None] * len(records)
    errors = []

    def cb(i):
        def on_delivery(err, msg):
            if err is not None:
                errors.append(err)
            else:
                placed[i] = (msg.partition(), msg.offset())
        return on_delivery

    for i, (k, v, ts) in enumerate(records):
        kw = {"key": k, "value": v, "on_delivery": cb(i)}
        if ts is not None:
            kw["timestamp"] = ts
        p.produce(topic, **kw)
        p.poll(0)
    assert p.flush(20) == 0
    assert not errors, errors
    return placed


def consume_n(c, n, timeout=20):
    out = []
    deadline = time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(0.1)
        if m is None:
            continue
        assert m.error() is None, m.error()
        out.append(m)
    return out


def wait_assigned(consumers, want, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for c in consumers:
            c.poll(0.05)
        got = [len(c.assignment()) for c in consumers]
        if got == want:
            return got
    return [len(c.assignment()) for c in consumers]


def test_keyed_records_land_on_one_partition_per_key(kafka_addr, unique):
    create_topic(kafka_addr, unique, 3)
    md = admin(kafka_addr).list_topics(unique, timeout=10)
    assert len(md.topics[unique].partitions) == 3
    records = [(f"key-{i % 9}".encode(), f"v{i}".encode(), None) for i in range(45)]
    placed = produce_all(producer(kafka_addr), unique, records)
    by_key = {}
    for (k, _, _), (part, _) in zip(records, placed):
        by_key.setdefault(k, set()).add(part)
    assert all(len(ps) == 1 for ps in by_key.values()), by_key
    assert len(set().union(*by_key.values())) >= 2

    c = consumer(kafka_addr, "unused")
    c.assign([TopicPartition(unique, p, OFFSET_BEGINNING) for p in range(3)])
    got = consume_n(c, 45)
    c.close()
    where = {v: at for (_, v, _), at in zip(records, placed)}
    assert len(got) == 45
    for m in got:
        assert where[m.value()] == (m.partition(), m.offset())


def test_group_join_time_and_split_with_an_idle_third_member(kafka_addr, unique):
    create_topic(kafka_addr, unique, 2)
    group = unique + "-g"
    c1 = consumer(kafka_addr, group)
    t0 = time.time()
    c1.subscribe([unique])
    assert wait_assigned([c1], [2]) == [2]
    join = time.time() - t0
    print(f"confluent-kafka group join: {join * 1000:.0f} ms")
    assert join < 3.0

    c2 = consumer(kafka_addr, group)
    c2.subscribe([unique])
    assert wait_assigned([c1, c2], [1, 1]) == [1, 1]
    c3 = consumer(kafka_addr, group)
    c3.subscribe([unique])
    # The third member joins (c1 and c2 rejoin), and gets nothing: two partitions.
    a = admin(kafka_addr)
    deadline = time.time() + 20
    while time.time() < deadline:
        for c in (c1, c2, c3):
            c.poll(0.05)
        desc = a.describe_consumer_groups([group])[group].result(timeout=10)
        if len(desc.members) == 3 and str(desc.state).endswith("STABLE"):
            break
    for _ in range(10):
        for c in (c1, c2, c3):
            c.poll(0.05)
    counts = sorted(len(c.assignment()) for c in (c1, c2, c3))
    assert counts == [0, 1, 1]
    for c in (c1, c2, c3):
        c.close()


CHILD = r"""
import sys, time
from confluent_kafka import Consumer
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": sys.argv[2], "session.timeout.ms": 6000,
              "heartbeat.interval.ms": 300, "auto.offset.reset": "earliest"})
c.subscribe([sys.argv[3]])
while True:
    c.poll(0.1)
    if c.assignment():
        print("assigned", len(c.assignment()), flush=True)
"""


def test_killed_member_is_replaced_within_the_session_timeout(kafka_addr, unique):
    create_topic(kafka_addr, unique, 2)
    group = unique + "-g"
    main = consumer(kafka_addr, group)
    main.subscribe([unique])
    assert wait_assigned([main], [2]) == [2]
    child = subprocess.Popen([sys.executable, "-c", CHILD, kafka_addr, group, unique],
                             stdout=subprocess.PIPE, text=True)
    try:
        assert wait_assigned([main], [1]) == [1]
        child.stdout.readline()
        os.kill(child.pid, signal.SIGKILL)  # no LeaveGroup: the session must expire
        child.wait()
        killed = time.time()
        assert wait_assigned([main], [2], timeout=20) == [2]
        took = time.time() - killed
        print(f"killed member replaced after {took * 1000:.0f} ms (session timeout 6000 ms)")
        assert took < 6.0 + 3.0
    finally:
        if child.poll() is None:
            child.kill()
        main.close()


def test_commit_then_a_new_consumer_resumes(kafka_addr, unique):
    create_topic(kafka_addr, unique, 1)
    produce_all(producer(kafka_addr, acks="all"), unique, [(None, b"r%d" % i, None) for i in range(10)])
    group = unique + "-g"
    c = consumer(kafka_addr, group)
    c.subscribe([unique])
    got = consume_n(c, 4)
    c.commit(message=got[-1], asynchronous=False)
    c.close()
    committed = consumer(kafka_addr, group).committed([TopicPartition(unique, 0)], timeout=10)
    assert committed[0].offset == 4
    c = consumer(kafka_addr, group)
    c.subscribe([unique])
    rest = consume_n(c, 6)
    c.close()
    assert [m.offset() for m in rest] == list(range(4, 10))


def test_seek_to_beginning_replays(kafka_addr, unique):
    create_topic(kafka_addr, unique, 1)
    produce_all(producer(kafka_addr), unique, [(None, b"x%d" % i, None) for i in range(5)])
    c = consumer(kafka_addr, unique + "-g")
    c.subscribe([unique])
    assert len(consume_n(c, 5)) == 5
    c.seek(TopicPartition(unique, 0, OFFSET_BEGINNING))
    again = consume_n(c, 5)
    c.close()
    assert [m.offset() for m in again] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("codec", ["gzip", "snappy", "lz4", "zstd"])
def test_compression_codecs(kafka_addr, unique, codec):
    create_topic(kafka_addr, unique, 1)
    values = [(f"{codec}-{i}-" + "z" * 40).encode() for i in range(300)]
    produce_all(producer(kafka_addr, compression_type=codec, linger_ms=50), unique,
                [(None, v, None) for v in values])
    c = consumer(kafka_addr, unique + "-g")
    c.subscribe([unique])
    got = consume_n(c, 300)
    c.close()
    assert [m.value() for m in got] == values


def test_idempotent_producer(kafka_addr, unique):
    create_topic(kafka_addr, unique, 1)
    p = producer(kafka_addr, enable_idempotence=True, acks="all")
    placed = produce_all(p, unique, [(None, b"i%d" % i, None) for i in range(3000)])
    assert [o for _, o in placed] == list(range(3000))
    c = consumer(kafka_addr, unique + "-g")
    c.subscribe([unique])
    got = consume_n(c, 3000)
    c.close()
    assert [m.value() for m in got] == [b"i%d" % i for i in range(3000)]


def test_offsets_for_times(kafka_addr, unique):
    create_topic(kafka_addr, unique, 1)
    base = 1_700_000_000_000
    produce_all(producer(kafka_addr), unique, [(None, b"t%d" % i, base + i * 1000) for i in range(10)])
    c = consumer(kafka_addr, unique + "-g")
    res = c.offsets_for_times([TopicPartition(unique, 0, base + 4500)], timeout=10)
    assert res[0].offset == 5
    res = c.offsets_for_times([TopicPartition(unique, 0, base - 1)], timeout=10)
    assert res[0].offset == 0
    lo, hi = c.get_watermark_offsets(TopicPartition(unique, 0), timeout=10)
    assert (lo, hi) == (0, 10)
    c.close()


def test_admin_describes_topics_configs_and_groups(kafka_addr, unique):
    a = admin(kafka_addr)
    create_topic(kafka_addr, unique, 2)
    res = ConfigResource(ConfigResource.Type.TOPIC, unique)
    alter = ConfigResource(ConfigResource.Type.TOPIC, unique, incremental_configs=[
        ConfigEntry("retention.ms", "7200000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", "1073741824", incremental_operation=AlterConfigOpType.SET),
    ])
    for f in a.incremental_alter_configs([alter]).values():
        f.result(timeout=10)
    configs = a.describe_configs([res])[res].result(timeout=10)
    assert configs["retention.ms"].value == "7200000"
    assert configs["retention.bytes"].value == "1073741824"
    assert configs["cleanup.policy"].value == "delete"
    assert configs["cleanup.policy"].is_read_only

    for f in a.create_partitions([NewPartitions(unique, 3)]).values():
        f.result(timeout=10)
    from confluent_kafka import TopicCollection
    desc = a.describe_topics(TopicCollection([unique]))[unique].result(timeout=10)
    assert len(desc.partitions) == 3

    group = unique + "-g"
    c = consumer(kafka_addr, group, client_id="described")
    c.subscribe([unique])
    assert wait_assigned([c], [3]) == [3]
    c.commit(offsets=[TopicPartition(unique, 0, 0)], asynchronous=False)
    g = a.describe_consumer_groups([group])[group].result(timeout=10)
    assert str(g.state).endswith("STABLE")
    assert [m.client_id for m in g.members] == ["described"]
    assert len(g.members[0].assignment.topic_partitions) == 3
    listed = a.list_consumer_groups().result(timeout=10)
    assert group in [x.group_id for x in listed.valid]
    offs = a.list_consumer_group_offsets(
        [__import__("confluent_kafka").ConsumerGroupTopicPartitions(group)])[group].result(timeout=10)
    assert any(tp.topic == unique and tp.offset == 0 for tp in offs.topic_partitions)
    c.close()
    for f in a.delete_consumer_groups([group]).values():
        f.result(timeout=10)
    for f in a.delete_topics([unique]).values():
        f.result(timeout=10)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"])
def test_sasl_as_the_default_guest_user(kafka_addr, unique, mechanism):
    """guest/guest exists on a fresh install and may log in from loopback."""
    auth = {"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": mechanism,
            "sasl.username": "guest", "sasl.password": "guest"}
    p = Producer({"bootstrap.servers": kafka_addr, **auth})
    placed = produce_all(p, unique, [(None, b"authenticated", None)])
    assert placed == [(0, 0)]
    bad = Producer({"bootstrap.servers": kafka_addr, **auth, "sasl.password": "wrong",
                    "message.timeout.ms": 1000, "log_level": 0})
    errors = []
    bad.produce(unique, b"nope", on_delivery=lambda err, msg: errors.append(err))
    bad.flush(10)
    assert errors and errors[0] is not None
