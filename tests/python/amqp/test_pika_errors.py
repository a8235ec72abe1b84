"""Reply codes as pika sees them: channel errors close one channel, connection errors
close the connection, and what the client did not break keeps working."""

import socket

import pika
import pytest
from pika.exceptions import ChannelClosedByBroker, ConnectionClosedByBroker, ProbableAuthenticationError


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


def channel_error(conn, action):
    ch = conn.channel()
    with pytest.raises(ChannelClosedByBroker) as e:
        action(ch)
    return e.value.reply_code


def test_channel_level_codes(conn, unique):
    ch = conn.channel()
    ch.queue_declare(unique)
    assert channel_error(conn, lambda c: c.queue_declare("missing-" + unique, passive=True)) == 404
    assert channel_error(conn, lambda c: c.exchange_declare("missing-" + unique, passive=True)) == 404
    assert channel_error(conn, lambda c: c.queue_declare(unique, durable=True)) == 406
    assert channel_error(conn, lambda c: c.queue_declare("amq.nope")) == 403
    assert channel_error(conn, lambda c: c.exchange_declare("amq.nope", "direct")) == 403
    assert channel_error(conn, lambda c: c.queue_bind(unique, "missing-" + unique)) == 404
    assert channel_error(conn, lambda c: c.tx_commit()) == 406
    assert (
        channel_error(conn, lambda c: c.queue_declare(unique + "x", arguments={"x-expires": 0}))
        == 406
    )

    def bad_ack(c):
        c.basic_ack(12345)
        c.queue_declare(unique, passive=True)  # a round trip to receive the close

    assert channel_error(conn, bad_ack) == 406

    def publish_missing_exchange(c):
        c.basic_publish("missing-" + unique, "k", b"x")
        c.queue_declare(unique, passive=True)

    assert channel_error(conn, publish_missing_exchange) == 404
    # The connection survived all of it.
    assert conn.channel().queue_declare(unique, passive=True).method.queue == unique


def test_exclusive_queue_is_locked(conn, params, unique):
    conn.channel().queue_declare(unique, exclusive=True)
    other = pika.BlockingConnection(params)
    try:
        assert channel_error(other, lambda c: c.queue_declare(unique, passive=True)) == 405
        assert channel_error(other, lambda c: c.basic_consume(unique, lambda *a: None)) == 405
    finally:
        other.close()


def test_connection_level_codes(params, unique):
    c = pika.BlockingConnection(params)
    ch = c.channel()
    with pytest.raises(ConnectionClosedByBroker) as e:
        ch.exchange_declare(unique, exchange_type="x-no-such-type")
    assert e.value.reply_code == 503
    assert c.is_closed
    c = pika.BlockingConnection(params)
    ch = c.channel()
    with pytest.raises(ConnectionClosedByBroker) as e:
        ch.basic_recover(requeue=False)
    assert e.value.reply_code == 540


def test_login_refusals(amqp_addr):
    host, port = amqp_addr
    bad = pika.ConnectionParameters(host=host, port=port, credentials=pika.PlainCredentials("guest", "nope"))
    with pytest.raises((ProbableAuthenticationError, ConnectionClosedByBroker, pika.exceptions.AMQPConnectionError)):
        pika.BlockingConnection(bad)
    no_vhost = pika.ConnectionParameters(host=host, port=port, virtual_host="no-such-vhost")
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        pika.BlockingConnection(no_vhost)


def test_garbage_gets_the_protocol_header(amqp_addr, conn):
    with socket.create_connection(amqp_addr, timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while True:
            chunk = s.recv(64)
            if not chunk:
                break
            answer += chunk
    assert answer == b"AMQP\x00\x00\x09\x01"
    # Other clients did not notice.
    conn.channel().queue_declare("", exclusive=True)


def test_oversized_frame_is_a_frame_error(amqp_addr, params, conn):
    c = pika.BlockingConnection(params)
    # Reach under pika to write a frame header announcing 2 GiB on channel 1.
    sock = c._impl._transport._sock
    sock.sendall(bytes([3, 0, 1, 0x7F, 0xFF, 0xFF, 0xFF]))
    with pytest.raises(ConnectionClosedByBroker) as e:
        c.process_data_events(time_limit=5)
        c.channel()
    assert e.value.reply_code == 501
    conn.channel().queue_declare("", exclusive=True)
