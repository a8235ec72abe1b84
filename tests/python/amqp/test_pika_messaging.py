"""pika (the most used Python AMQP client) against Trident: routing through every
exchange type, confirms, returns, prefetch, requeue, TTL and dead-lettering,
transactions and direct reply-to. The broker address comes from TRIDENT_AMQP."""

import time

import pika
import pytest


@pytest.fixture
def conn(amqp_addr):
    host, port = amqp_addr
    params = pika.ConnectionParameters(
        host=host,
        port=port,
        credentials=pika.PlainCredentials("guest", "guest"),
        heartbeat=30,
        blocked_connection_timeout=30,
    )
    c = pika.BlockingConnection(params)
    yield c
    if c.is_open:
        c.close()


@pytest.fixture
def ch(conn):
    return conn.channel()


def drain(ch, queue, wait=0.1):
    """Bodies currently in a queue (publishes are asynchronous: wait a little)."""
    time.sleep(wait)
    bodies = []
    while True:
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            return bodies
        bodies.append(body)


def test_roundtrip_keeps_properties(ch, unique):
    ch.queue_declare(unique)
    props = pika.BasicProperties(
        content_type="application/json",
        correlation_id="c-1",
        message_id="m-1",
        delivery_mode=2,
        priority=4,
        timestamp=1_700_000_000,
        headers={"int": 7, "str": "v", "nested": {"a": [1, "two"]}},
    )
    ch.basic_publish("", unique, b'{"x": 1}', props)
    for method, p, body in ch.consume(unique, inactivity_timeout=5):
        assert method is not None, "a delivery"
        assert body == b'{"x": 1}'
        assert method.routing_key == unique and method.exchange == ""
        assert not method.redelivered
        assert p.content_type == "application/json"
        assert p.correlation_id == "c-1" and p.message_id == "m-1"
        assert p.delivery_mode == 2 and p.priority == 4
        assert p.timestamp == 1_700_000_000
        assert p.headers == {"int": 7, "str": "v", "nested": {"a": [1, "two"]}}
        ch.basic_ack(method.delivery_tag)
        break
    ch.cancel()


def test_every_exchange_type(ch, unique):
    qa, qb = unique + "-a", unique + "-b"
    for q in (qa, qb):
        ch.queue_declare(q)
    ch.exchange_declare(unique + ".direct", "direct")
    ch.exchange_declare(unique + ".fanout", "fanout")
    ch.exchange_declare(unique + ".topic", "topic")
    ch.exchange_declare(unique + ".headers", "headers")
    ch.queue_bind(qa, unique + ".direct", "red")
    ch.queue_bind(qb, unique + ".fanout")
    ch.queue_bind(qa, unique + ".topic", "*.error")
    ch.queue_bind(qb, unique + ".topic", "app.#")
    ch.queue_bind(qa, unique + ".headers", arguments={"x-match": "any", "kind": "a", "n": 1})
    ch.basic_publish(unique + ".direct", "red", b"direct")
    ch.basic_publish(unique + ".direct", "blue", b"lost")
    ch.basic_publish(unique + ".fanout", "ignored", b"fanout")
    ch.basic_publish(unique + ".topic", "app.error", b"topic-both")
    ch.basic_publish(unique + ".topic", "app.info.x", b"topic-b")
    ch.basic_publish(unique + ".headers", "", b"headers", pika.BasicProperties(headers={"n": 1}))
    assert drain(ch, qa) == [b"direct", b"topic-both", b"headers"]
    assert drain(ch, qb) == [b"fanout", b"topic-both", b"topic-b"]


def test_predeclared_exchanges(ch, unique):
    for name, kind in [
        ("amq.direct", "direct"),
        ("amq.fanout", "fanout"),
        ("amq.topic", "topic"),
        ("amq.headers", "headers"),
        ("amq.match", "headers"),
    ]:
        ch.exchange_declare(name, kind, passive=True)
    ch.queue_declare(unique)
    ch.queue_bind(unique, "amq.direct", unique)
    ch.basic_publish("amq.direct", unique, b"via amq.direct")
    assert drain(ch, unique) == [b"via amq.direct"]


def test_confirms_and_mandatory_returns(ch, unique):
    ch.confirm_delivery()
    ch.queue_declare(unique, durable=True)
    for i in range(200):
        ch.basic_publish("", unique, str(i).encode(), pika.BasicProperties(delivery_mode=2))
    with pytest.raises(pika.exceptions.UnroutableError):
        ch.basic_publish("amq.direct", "no-binding-" + unique, b"x", mandatory=True)
    ok = ch.queue_declare(unique, durable=True, passive=True)
    assert ok.method.message_count == 200
    ch.queue_delete(unique)


def test_reject_publish_overflow_nacks(ch, unique):
    ch.confirm_delivery()
    ch.queue_declare(unique, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.basic_publish("", unique, b"fits")
    with pytest.raises(pika.exceptions.NackError):
        ch.basic_publish("", unique, b"refused")


def test_prefetch_limits_unacked(conn, ch, unique):
    ch.queue_declare(unique)
    for i in range(5):
        ch.basic_publish("", unique, bytes([i]))
    ch.basic_qos(prefetch_count=2)
    got = []
    ch.basic_consume(unique, lambda c, m, p, b: got.append(m))
    conn.process_data_events(time_limit=0.5)
    assert len(got) == 2
    ch.basic_ack(got[0].delivery_tag)
    conn.process_data_events(time_limit=0.5)
    assert len(got) == 3
    ch.basic_ack(got[2].delivery_tag, multiple=True)
    conn.process_data_events(time_limit=0.5)
    assert len(got) == 5


def test_nack_requeue_sets_redelivered(ch, unique):
    ch.queue_declare(unique)
    ch.basic_publish("", unique, b"again")
    time.sleep(0.1)
    method, _, _ = ch.basic_get(unique)
    assert not method.redelivered
    ch.basic_nack(method.delivery_tag, requeue=True)
    method, _, body = ch.basic_get(unique)
    assert method.redelivered and body == b"again"
    ch.basic_reject(method.delivery_tag, requeue=True)
    method, _, _ = ch.basic_get(unique)
    assert method.redelivered
    ch.basic_ack(method.delivery_tag)


def test_ttl_and_dead_lettering(ch, unique):
    dlx, dead = unique + ".dlx", unique + ".dead"
    ch.exchange_declare(dlx, "fanout")
    ch.queue_declare(dead)
    ch.queue_bind(dead, dlx)
    ch.queue_declare(
        unique,
        arguments={"x-message-ttl": 100, "x-dead-letter-exchange": dlx},
    )
    ch.basic_publish("", unique, b"expires")
    ch.basic_publish("", unique, b"rejected", pika.BasicProperties(expiration="60000"))
    time.sleep(0.05)
    method, _, body = ch.basic_get(unique)
    assert body == b"expires"
    ch.basic_nack(method.delivery_tag, requeue=True)
    # The first message is back at the head; take the second and reject it.
    method, _, body = ch.basic_get(unique)
    method2, _, body2 = ch.basic_get(unique)
    for m, b in ((method, body), (method2, body2)):
        if b == b"rejected":
            ch.basic_reject(m.delivery_tag, requeue=False)
        else:
            ch.basic_nack(m.delivery_tag, requeue=True)
    time.sleep(0.3)
    assert ch.basic_get(unique)[0] is None  # the TTL ran out
    dead_letters = []
    for m, p, b in ch.consume(dead, inactivity_timeout=2):
        if m is None:
            break
        assert "x-death" in p.headers
        dead_letters.append(b)
        ch.basic_ack(m.delivery_tag)
        if len(dead_letters) == 2:
            break
    ch.cancel()
    assert sorted(dead_letters) == [b"expires", b"rejected"]


def test_transactions(ch, unique):
    ch.queue_declare(unique)
    ch.tx_select()
    ch.basic_publish("", unique, b"rolled back")
    ch.tx_rollback()
    ch.basic_publish("", unique, b"committed")
    ch.tx_commit()
    assert drain(ch, unique) == [b"committed"]


def test_direct_reply_to(conn, amqp_addr, unique):
    host, port = amqp_addr
    server_conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port))
    server = server_conn.channel()
    server.queue_declare(unique)
    client = conn.channel()
    replies = []
    client.basic_consume("amq.rabbitmq.reply-to", lambda c, m, p, b: replies.append((p, b)), auto_ack=True)
    client.basic_publish(
        "",
        unique,
        b"ping",
        pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id="7"),
    )
    for method, props, body in server.consume(unique, inactivity_timeout=5):
        assert method is not None
        assert props.reply_to.startswith("amq.rabbitmq.reply-to.")
        server.basic_publish("", props.reply_to, b"pong:" + body, pika.BasicProperties(correlation_id="7"))
        server.basic_ack(method.delivery_tag)
        break
    server.cancel()
    deadline = time.time() + 5
    while not replies and time.time() < deadline:
        conn.process_data_events(time_limit=0.1)
    assert replies and replies[0][1] == b"pong:ping" and replies[0][0].correlation_id == "7"
    server_conn.close()


def test_server_named_queue_and_heartbeats(amqp_addr):
    host, port = amqp_addr
    c = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port, heartbeat=1))
    ch = c.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    assert q.startswith("amq.gen-")
    # Longer than two heartbeat intervals: both sides keep the connection alive.
    c.sleep(3)
    ch.basic_publish("", q, b"still here")
    assert drain(ch, q) == [b"still here"]
    c.close()
