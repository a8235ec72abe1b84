"""DescribeTopicPartitions (API key 75, KIP-966) through kafka-python's connection and
protocol code. kafka-python 2.2 has no class for this API, so the request and response
are declared here with kafka-python's own wire types (an encoder independent of
Trident's codec); connecting, ApiVersions negotiation and framing are kafka-python's.
Topics are created and cross-checked with kafka-python's admin client (Metadata)."""

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.client_async import KafkaClient
from kafka.protocol.api import Request, Response
from kafka.protocol.types import (
    AbstractType, Boolean, CompactArray, CompactString, Int8, Int16, Int32, Schema,
    TaggedFields,
)

CURSOR = Schema(
    ("topic_name", CompactString("utf-8")),
    ("partition_index", Int32),
    ("tags", TaggedFields),
)


class NullableCursor(AbstractType):
    """A nullable struct: int8 -1 for null, 1 then the struct."""

    @classmethod
    def encode(cls, value):
        if value is None:
            return Int8.encode(-1)
        return Int8.encode(1) + CURSOR.encode(value)

    @classmethod
    def decode(cls, data):
        if Int8.decode(data) < 0:
            return None
        return CURSOR.decode(data)


class Uuid(AbstractType):
    @classmethod
    def encode(cls, value):
        return value

    @classmethod
    def decode(cls, data):
        return data.read(16)


class DescribeTopicPartitionsResponse_v0(Response):
    API_KEY = 75
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", CompactArray(
            ("error_code", Int16),
            ("name", CompactString("utf-8")),
            ("topic_id", Uuid),
            ("is_internal", Boolean),
            ("partitions", CompactArray(
                ("error_code", Int16),
                ("partition_index", Int32),
                ("leader_id", Int32),
                ("leader_epoch", Int32),
                ("replica_nodes", CompactArray(Int32)),
                ("isr_nodes", CompactArray(Int32)),
                ("eligible_leader_replicas", CompactArray(Int32)),
                ("last_known_elr", CompactArray(Int32)),
                ("offline_replicas", CompactArray(Int32)),
                ("tags", TaggedFields),
            )),
            ("topic_authorized_operations", Int32),
            ("tags", TaggedFields),
        )),
        ("next_cursor", NullableCursor),
        ("tags", TaggedFields),
    )


class DescribeTopicPartitionsRequest_v0(Request):
    API_KEY = 75
    API_VERSION = 0
    FLEXIBLE_VERSION = True
    RESPONSE_TYPE = DescribeTopicPartitionsResponse_v0
    SCHEMA = Schema(
        ("topics", CompactArray(("name", CompactString("utf-8")), ("tags", TaggedFields))),
        ("response_partition_limit", Int32),
        ("cursor", NullableCursor),
        ("tags", TaggedFields),
    )


def _call(client, node, request):
    while not client.ready(node):
        client.poll(timeout_ms=100)
    future = client.send(node, request)
    client.poll(future=future, timeout_ms=10000)
    assert future.succeeded(), future.exception
    return future.value


def _page(client, node, topics, limit, cursor=None):
    req = DescribeTopicPartitionsRequest_v0(
        topics=[(t, {}) for t in topics],
        response_partition_limit=limit,
        cursor=None if cursor is None else (cursor[0], cursor[1], {}),
        tags={},
    )
    resp = _call(client, node, req)
    described = [
        (t[1], t[0], [p[1] for p in t[4]]) for t in resp.topics
    ]
    nxt = resp.next_cursor
    return described, (None if nxt is None else (nxt[0], nxt[1])), resp


def test_describe_topic_partitions_pages_with_a_cursor(kafka_addr, unique):
    admin = KafkaAdminClient(bootstrap_servers=kafka_addr)
    wide, narrow = unique + "-a", unique + "-b"
    admin.create_topics([
        NewTopic(wide, num_partitions=7, replication_factor=1),
        NewTopic(narrow, num_partitions=2, replication_factor=1),
    ])
    by_metadata = {
        t["topic"]: sorted(p["partition"] for p in t["partitions"])
        for t in admin.describe_topics([wide, narrow])
    }
    admin.close()

    client = KafkaClient(bootstrap_servers=kafka_addr)
    node = client.least_loaded_node()
    _call(client, node, DescribeTopicPartitionsRequest_v0(
        topics=[], response_partition_limit=1, cursor=None, tags={}))
    assert client.get_api_versions()[75] == (0, 0), "advertised in ApiVersions"

    # Page through both topics 3 partitions at a time, following the cursor.
    seen = {}
    cursor = None
    pages = 0
    while True:
        described, cursor, resp = _page(client, node, [narrow, wide], 3, cursor)
        pages += 1
        assert sum(len(p) for _, _, p in described) <= 3
        for name, error, parts in described:
            assert error == 0
            seen.setdefault(name, []).extend(parts)
        for t in resp.topics:
            for p in t[4]:
                assert p[2] == 0 and p[4] == [0] and p[5] == [0] and p[6] is None
        if cursor is None:
            break
        assert pages < 10
    assert seen == by_metadata
    assert pages == 3  # 3 + 3 + (1 of wide, 2 of narrow)

    described, cursor, _ = _page(client, node, [unique + "-missing"], 10)
    assert described == [(unique + "-missing", 3, [])]  # UNKNOWN_TOPIC_OR_PARTITION
    assert cursor is None
    client.close()
