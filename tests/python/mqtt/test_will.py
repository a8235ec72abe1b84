"""Wills: published when the connection ends without DISCONNECT (the socket is closed
under the broker), not after a clean DISCONNECT; retained wills; MQTT 5 will delay
interval and DISCONNECT 0x04 (disconnect with will message)."""

import time

import rawmqtt as r
from mqttkit import V5


def _version_byte(version):
    return 5 if version == V5 else 4


def test_will_on_abnormal_disconnect(client, raw, version, topic, cid):
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    v = _version_byte(version)
    dev = raw(v)
    ack = dev.handshake(cid("dev"), will=(topic, b"gone", 1, False))
    assert ack.reason == 0
    dev.abort()
    msg = sub.recv(5)
    assert msg.payload == b"gone" and msg.qos == 1 and not msg.retain


def test_no_will_after_clean_disconnect(client, raw, version, topic, cid):
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    v = _version_byte(version)
    dev = raw(v)
    assert dev.handshake(cid("dev"), will=(topic, b"gone", 1, False)).reason == 0
    dev.send(r.disconnect(0 if v == 5 else None, v))
    dev.until_closed(5)
    sub.assert_nothing(1.5)


def test_retained_will(client, raw, version, topic, cid):
    v = _version_byte(version)
    dev = raw(v)
    assert dev.handshake(cid("dev"), will=(topic, b"last words", 1, True)).reason == 0
    dev.abort()
    time.sleep(0.5)
    late = client(version, client_id=cid("late"))
    late.subscribe(topic, qos=1)
    msg = late.recv(5)
    assert msg.payload == b"last words" and msg.retain
    late.publish(topic, b"", qos=1, retain=True)


def test_will_after_paho_socket_loss(client, version, topic, cid):
    """The same through paho: its socket is shut down under it."""
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic, qos=2)
    dev = client(version, client_id=cid("dev"), will=(topic, b"paho gone", 2, False))
    dev.c.socket().shutdown(2)
    msg = sub.recv(5)
    assert msg.payload == b"paho gone" and msg.qos == 2


def test_v5_disconnect_with_will_message(client, raw, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    dev = raw(5)
    assert dev.handshake(cid("dev"), will=(topic, b"asked for", 1, False)).reason == 0
    dev.send(r.disconnect(0x04))
    dev.until_closed(5)
    assert sub.recv(5).payload == b"asked for"


def test_v5_will_delay_interval(client, raw, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    dev = raw(5)
    ack = dev.handshake(cid("dev"), clean=True, properties={"session_expiry": 30},
                        will=(topic, b"late", 1, False, {"will_delay": 2}))
    assert ack.reason == 0
    dev.abort()
    t0 = time.monotonic()
    sub.assert_nothing(1.2)
    msg = sub.recv(6)
    waited = time.monotonic() - t0
    assert msg.payload == b"late"
    assert waited >= 1.5, f"will sent after {waited:.1f}s, before its 2 s delay"


def test_v5_will_delay_cancelled_by_reconnect(client, raw, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    dev_id = cid("dev")
    dev = raw(5)
    ack = dev.handshake(dev_id, clean=True, properties={"session_expiry": 30},
                        will=(topic, b"never", 1, False, {"will_delay": 3}))
    assert ack.reason == 0
    dev.abort()
    time.sleep(0.5)
    again = raw(5)
    ack2 = again.handshake(dev_id, clean=False, properties={"session_expiry": 30})
    assert ack2.reason == 0 and ack2.session_present
    sub.assert_nothing(4.0)
    again.send(r.disconnect(0, properties={"session_expiry": 0}))
    again.until_closed(5)


def test_v5_will_delay_capped_by_session_expiry(client, raw, topic, cid):
    """The will goes out when the session ends, if that is before the will delay."""
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    dev = raw(5)
    ack = dev.handshake(cid("dev"), clean=True, properties={"session_expiry": 1},
                        will=(topic, b"session over", 1, False, {"will_delay": 60}))
    assert ack.reason == 0
    dev.abort()
    assert sub.recv(6).payload == b"session over"

