"""Every listener over TLS with real clients, against certificates that tests/tls.rs
generates: pika (AMQPS), paho-mqtt (MQTT over TLS), confluent-kafka (SSL and
SASL_SSL), an HTTPS request; and the failure cases: a plain-text client on a TLS port
is closed cleanly, a garbage or stalled handshake closes only that connection."""

import base64
import os
import socket
import ssl
import threading
import urllib.request
import uuid

import paho.mqtt.client as mqtt
import pika
import pytest
from confluent_kafka import Consumer, Producer


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test --test tls`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


CA = os.environ.get("TRIDENT_TLS_CA", "")
CLIENT_CERT = os.environ.get("TRIDENT_TLS_CLIENT_CERT", "")
CLIENT_KEY = os.environ.get("TRIDENT_TLS_CLIENT_KEY", "")


def client_context():
    ctx = ssl.create_default_context(cafile=CA)
    return ctx


def unique():
    return "tls-" + uuid.uuid4().hex[:10]


def test_pika_over_amqps_publishes_and_gets_with_confirms():
    host, port = _addr("TRIDENT_AMQPS")
    params = pika.ConnectionParameters(
        host="localhost", port=port,
        ssl_options=pika.SSLOptions(client_context(), "localhost"),
        credentials=pika.PlainCredentials("guest", "guest"))
    conn = pika.BlockingConnection(params)
    ch = conn.channel()
    ch.confirm_delivery()
    q = unique()
    ch.queue_declare(q)
    # Large enough to span several TLS records.
    bodies = [b"x" * 40_000 + str(i).encode() for i in range(20)]
    for b in bodies:
        ch.basic_publish("", q, b)
    got = []
    for _ in bodies:
        method, _props, body = ch.basic_get(q, auto_ack=True)
        assert method is not None
        got.append(body)
    assert got == bodies
    conn.close()


def test_pika_with_a_client_certificate():
    host, port = _addr("TRIDENT_AMQPS")
    ctx = client_context()
    ctx.load_cert_chain(CLIENT_CERT, CLIENT_KEY)
    params = pika.ConnectionParameters(
        host="localhost", port=port, ssl_options=pika.SSLOptions(ctx, "localhost"),
        credentials=pika.PlainCredentials("guest", "guest"))
    conn = pika.BlockingConnection(params)
    assert conn.is_open
    conn.close()


def test_paho_over_tls_round_trip():
    host, port = _addr("TRIDENT_MQTTS")
    topic = "tls/" + unique()
    received = []
    done = threading.Event()
    subscribed = threading.Event()

    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique())
    sub.tls_set(ca_certs=CA)
    sub.on_subscribe = lambda *a: subscribed.set()

    def on_message(_c, _u, msg):
        received.append(msg.payload)
        if len(received) == 3:
            done.set()
    sub.on_message = on_message
    sub.connect("localhost", port)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    assert subscribed.wait(10)

    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=unique(),
                      protocol=mqtt.MQTTv5)
    pub.tls_set(ca_certs=CA)
    pub.connect("localhost", port)
    pub.loop_start()
    for i in range(3):
        pub.publish(topic, f"m{i}".encode(), qos=1).wait_for_publish(10)
    assert done.wait(10)
    assert received == [b"m0", b"m1", b"m2"]
    for c in (pub, sub):
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("protocol", ["SSL", "SASL_SSL"])
def test_librdkafka_over_tls(protocol):
    host, port = _addr("TRIDENT_KAFKAS")
    conf = {"bootstrap.servers": f"localhost:{port}", "security.protocol": protocol,
            "ssl.ca.location": CA}
    if protocol == "SASL_SSL":
        conf.update({"sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "guest",
                     "sasl.password": "guest"})
    topic = unique()
    p = Producer(conf)
    delivered = []
    for i in range(5):
        p.produce(topic, f"v{i}".encode(),
                  on_delivery=lambda err, msg: delivered.append((err, msg.offset())))
    assert p.flush(30) == 0
    assert [e for e, _ in delivered] == [None] * 5
    # Metadata must name the TLS listener: the producer only reaches the partition
    # leader through the advertised address, so delivery proves it.
    md = p.list_topics(topic, timeout=10)
    assert [b.port for b in md.brokers.values()] == [port]
    c = Consumer({**conf, "group.id": unique(), "auto.offset.reset": "earliest"})
    c.subscribe([topic])
    got = []
    while len(got) < 5:
        m = c.poll(10)
        assert m is not None, f"only {got} consumed"
        assert m.error() is None, m.error()
        got.append(m.value())
    assert got == [f"v{i}".encode() for i in range(5)]
    c.close()


def test_https_overview():
    host, port = _addr("TRIDENT_HTTPS")
    req = urllib.request.Request(f"https://localhost:{port}/api/overview")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(req, context=client_context(), timeout=10) as resp:
        assert resp.status == 200
        assert b"listeners" in resp.read()
    with urllib.request.urlopen(f"https://localhost:{port}/healthz",
                                context=client_context(), timeout=10) as resp:
        assert resp.read() == b"ok\n"


def _closed_by_peer(sock):
    """Reads until the broker closes; True for a FIN or a reset (both are a close)."""
    sock.settimeout(15)
    try:
        while sock.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


@pytest.mark.parametrize("var,hello", [
    ("TRIDENT_AMQPS", b"AMQP\x00\x00\x09\x01"),
    ("TRIDENT_MQTTS", b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x04abcd"),
    ("TRIDENT_KAFKAS", b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00"),
    ("TRIDENT_HTTPS", b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"),
])
def test_plain_text_client_on_a_tls_port_is_closed(var, hello):
    host, port = _addr(var)
    s = socket.create_connection((host, port))
    s.sendall(hello)
    assert _closed_by_peer(s)
    s.close()


@pytest.mark.parametrize("var", ["TRIDENT_AMQPS", "TRIDENT_MQTTS", "TRIDENT_KAFKAS",
                                 "TRIDENT_HTTPS"])
def test_garbage_or_stalled_handshakes_do_not_block_others(var):
    host, port = _addr(var)
    garbage = socket.create_connection((host, port))
    garbage.sendall(b"\x16\x03\x01\xff\xff" + os.urandom(300))
    # Stalled: a half-sent ClientHello that never completes.
    stalled = [socket.create_connection((host, port)) for _ in range(3)]
    for s in stalled:
        s.sendall(b"\x16\x03\x01\x00\x80")
    # A real client completes its handshake while those are pending.
    raw = socket.create_connection((host, port))
    tls = client_context().wrap_socket(raw, server_hostname="localhost")
    assert tls.version() in ("TLSv1.2", "TLSv1.3")
    tls.close()
    assert _closed_by_peer(garbage)
    for s in stalled + [garbage]:
        s.close()
