"""Details where ordinary pika code depends on RabbitMQ's behaviour: requeued messages
keep their place in the queue (pika's consumer iterator rejects what it still holds one
message at a time when it is cancelled), unbinding something already gone succeeds
(cleanup after auto-delete), and connection.update-secret re-checks the secret."""

import socket

import pika
import pytest
from pika.exceptions import ConnectionClosedByBroker

TOTAL = 10


@pytest.fixture
def params(amqp_addr):
    host, port = amqp_addr
    return pika.ConnectionParameters(host=host, port=port)


@pytest.fixture
def conn(params):
    c = pika.BlockingConnection(params)
    yield c
    if c.is_open:
        c.close()


def fill(ch, q):
    ch.queue_declare(q)
    ch.confirm_delivery()
    for i in range(TOTAL):
        ch.basic_publish("", q, f"m{i}".encode())


def take(ch, q, n):
    """basic.get n messages without acking them; checks they come in order."""
    got = []
    for _ in range(n):
        method, _props, body = ch.basic_get(q, auto_ack=False)
        assert method is not None, f"only {len(got)} messages to get"
        got.append((method.delivery_tag, body.decode()))
    return got


def wait_ready(conn, q, n):
    """Requeues on close or connection loss happen in the broker after the client is
    done: wait until the queue holds `n` ready messages again."""
    ch = conn.channel()
    for _ in range(200):
        if ch.queue_declare(q, passive=True).method.message_count == n:
            return ch
        conn.sleep(0.02)
    raise AssertionError(f"{q} never got back to {n} ready messages")


def contents(ch, q):
    out = []
    while True:
        method, _props, body = ch.basic_get(q, auto_ack=True)
        if method is None:
            return out
        out.append((body.decode(), method.redelivered))


def in_place(held):
    """m0..m9 in publish order, the first `held` flagged as redelivered."""
    return [(f"m{i}", i < held) for i in range(TOTAL)]


@pytest.mark.parametrize("order", ["forward", "reversed", "shuffled"])
def test_one_nack_per_read_requeues_in_place(conn, unique, order):
    ch = conn.channel()
    fill(ch, unique)
    held = take(ch, unique, 7)
    assert [b for _, b in held] == [f"m{i}" for i in range(7)]
    tags = [t for t, _ in held]
    if order == "reversed":
        tags.reverse()
    elif order == "shuffled":
        tags = [tags[i] for i in (3, 0, 6, 1, 5, 2, 4)]
    for t in tags:
        ch.basic_nack(t, multiple=False, requeue=True)
    assert contents(ch, unique) == in_place(7)


def test_nack_multiple_and_reject_requeue_in_place(conn, unique):
    ch = conn.channel()
    fill(ch, unique)
    held = take(ch, unique, 6)
    # Reject the last one, then nack everything up to the fourth at once, then the rest.
    ch.basic_reject(held[5][0], requeue=True)
    ch.basic_nack(held[3][0], multiple=True, requeue=True)
    ch.basic_nack(held[4][0], multiple=False, requeue=True)
    assert contents(ch, unique) == in_place(6)


def test_cancelled_consumer_iterator_requeues_in_place(conn, unique):
    ch = conn.channel()
    fill(ch, unique)
    ch.basic_qos(prefetch_count=7)
    seen = []
    for method, _props, body in ch.consume(unique, inactivity_timeout=2):
        assert method is not None, "deliveries stopped"
        seen.append(body.decode())
        if len(seen) == 3:
            break
    assert seen == ["m0", "m1", "m2"]
    # pika rejects (requeue=True) each buffered delivery it has not handed out, one at
    # a time; closing the channel then requeues the three it did hand out.
    ch.cancel()
    ch.close()
    assert contents(wait_ready(conn, unique, TOTAL), unique) == in_place(7)


def test_requeue_in_place_after_channel_close_and_connection_loss(conn, params, unique):
    ch = conn.channel()
    fill(ch, unique)
    # Interleaved holders: m0, m2, m4 on a connection that is lost, m1, m3, m5 on a
    # channel that is closed, m6 nacked.
    lost = pika.BlockingConnection(params)
    lost_ch = lost.channel()
    closing = conn.channel()
    for i in range(6):
        holder = lost_ch if i % 2 == 0 else closing
        method, _props, body = holder.basic_get(unique, auto_ack=False)
        assert body == f"m{i}".encode()
    method, _props, _body = ch.basic_get(unique, auto_ack=False)
    ch.basic_nack(method.delivery_tag, requeue=True)
    closing.close()
    # No connection.close: the socket just goes, as when a client process dies.
    lost._impl._transport._sock.shutdown(socket.SHUT_RDWR)
    assert contents(wait_ready(conn, unique, TOTAL), unique) == in_place(7)


def test_unbind_of_anything_missing_is_ok(conn, unique):
    ch = conn.channel()
    ch.exchange_declare(unique + ".x", "direct")
    ch.queue_declare(unique)
    ch.queue_bind(unique, unique + ".x", "k")
    ch.queue_unbind(unique, unique + ".x", "k")
    # Each of these is unbind-ok in RabbitMQ, and the channel stays open.
    ch.queue_unbind(unique, unique + ".x", "k")  # the binding is gone
    ch.queue_unbind(unique, "missing-" + unique, "k")  # no such exchange
    ch.queue_unbind("missing-" + unique, unique + ".x", "k")  # no such queue
    ch.exchange_unbind(unique + ".d", unique + ".x", "k")  # no such destination
    ch.exchange_unbind(unique + ".x", "missing-" + unique, "k")  # no such source
    ch.exchange_declare(unique + ".d", "fanout")
    ch.exchange_unbind(unique + ".d", unique + ".x", "k")  # no such binding
    assert ch.is_open
    assert ch.queue_declare(unique, passive=True).method.queue == unique


def test_unbind_after_auto_delete_took_the_queue(conn, unique):
    # An RPC helper's cleanup: its auto-delete reply queue is already gone when it
    # unbinds it.
    ch = conn.channel()
    ch.exchange_declare(unique + ".x", "topic")
    q = ch.queue_declare("", exclusive=True, auto_delete=True).method.queue
    ch.queue_bind(q, unique + ".x", "reply.#")
    tag = ch.basic_consume(q, lambda *a: None, auto_ack=True)
    ch.basic_cancel(tag)  # the last consumer leaves: auto-delete removes the queue
    conn.sleep(0.1)
    ch.queue_unbind(q, unique + ".x", "reply.#")
    assert ch.is_open


def test_update_secret_good_and_bad(params, unique):
    good = pika.BlockingConnection(params)
    good.update_secret("guest", "token refresh")
    ch = good.channel()
    ch.queue_declare(unique)
    ch.basic_publish("", unique, b"after the update")
    method, _props, body = ch.basic_get(unique, auto_ack=True)
    assert body == b"after the update"
    good.close()

    bad = pika.BlockingConnection(params)
    with pytest.raises(ConnectionClosedByBroker) as e:
        bad.update_secret("not-the-password", "token refresh")
        # The close arrives on the next read if update_secret returned first.
        bad.channel()
    # RabbitMQ: NOT_ALLOWED, "New secret was refused by one of the backends".
    assert e.value.reply_code == 530
    assert "refused" in e.value.reply_text
