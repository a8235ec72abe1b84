"""kafka-python (a pure-Python client with its own protocol code) against Trident."""

import time

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions, NewTopic


def test_produce_consume_commit_and_resume(kafka_addr, unique):
    admin = KafkaAdminClient(bootstrap_servers=kafka_addr)
    admin.create_topics([NewTopic(unique, num_partitions=3, replication_factor=1)])
    p = KafkaProducer(bootstrap_servers=kafka_addr, acks="all", linger_ms=5)
    futures = [p.send(unique, key=b"k%d" % (i % 5), value=b"v%d" % i) for i in range(30)]
    placed = [f.get(timeout=20) for f in futures]
    p.close()
    by_key = {}
    for i, md in enumerate(placed):
        by_key.setdefault(i % 5, set()).add(md.partition)
    assert all(len(v) == 1 for v in by_key.values())

    group = unique + "-g"
    c = KafkaConsumer(unique, bootstrap_servers=kafka_addr, group_id=group,
                      auto_offset_reset="earliest", enable_auto_commit=False,
                      consumer_timeout_ms=15000)
    t0 = time.time()
    got = []
    for m in c:
        if not got:
            print(f"kafka-python first message after {(time.time() - t0) * 1000:.0f} ms")
        got.append(m)
        if len(got) == 30:
            break
    assert len(got) == 30
    c.commit()
    c.close()

    c = KafkaConsumer(bootstrap_servers=kafka_addr, group_id=group, enable_auto_commit=False)
    tps = [TopicPartition(unique, i) for i in range(3)]
    assert sum(c.committed(tp) or 0 for tp in tps) == 30
    c.close()


def test_gzip_and_offsets_for_times(kafka_addr, unique):
    p = KafkaProducer(bootstrap_servers=kafka_addr, compression_type="gzip")
    base = 1_700_000_000_000
    for i in range(10):
        p.send(unique, value=b"g%d" % i, partition=0, timestamp_ms=base + i * 1000)
    p.flush()
    p.close()
    c = KafkaConsumer(bootstrap_servers=kafka_addr, auto_offset_reset="earliest",
                      consumer_timeout_ms=10000)
    tp = TopicPartition(unique, 0)
    c.assign([tp])
    values = []
    for m in c:
        values.append(m.value)
        if len(values) == 10:
            break
    assert values == [b"g%d" % i for i in range(10)]
    found = c.offsets_for_times({tp: base + 2000})
    assert found[tp].offset == 2
    assert c.end_offsets([tp])[tp] == 10
    assert c.beginning_offsets([tp])[tp] == 0
    c.close()


def test_admin_configs_partitions_and_groups(kafka_addr, unique):
    admin = KafkaAdminClient(bootstrap_servers=kafka_addr)
    admin.create_topics([NewTopic(unique, num_partitions=1, replication_factor=1,
                                  topic_configs={"retention.ms": "60000"})])
    res = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, unique)])
    text = repr(res)
    assert "retention.ms" in text and "60000" in text
    admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, unique, configs={"retention.ms": "120000"})])
    assert "120000" in repr(admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, unique)]))
    admin.create_partitions({unique: NewPartitions(total_count=2)})
    c = KafkaConsumer(unique, bootstrap_servers=kafka_addr, group_id=unique + "-g",
                      auto_offset_reset="earliest", consumer_timeout_ms=3000)
    for _ in c:
        pass
    groups = [g[0] for g in admin.list_consumer_groups()]
    assert unique + "-g" in groups
    described = admin.describe_consumer_groups([unique + "-g"])
    assert described[0].group == unique + "-g"
    c.close()
    admin.delete_topics([unique])
    admin.close()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl(kafka_addr, unique, mechanism):
    p = KafkaProducer(bootstrap_servers=kafka_addr, security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism=mechanism, sasl_plain_username="guest",
                      sasl_plain_password="guest")
    md = p.send(unique, b"hello").get(timeout=20)
    assert md.offset == 0
    p.close()
