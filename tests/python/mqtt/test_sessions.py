"""Persistent sessions: subscriptions and QoS 1/2 messages kept while the client is
offline (clean session 0 in 3.1.1, clean start 0 with a session expiry in 5.0),
session-present on reconnect, clean sessions that forget, MQTT 5 session expiry, and
session takeover by a second connection with the same client id."""

import time

import pytest

import rawmqtt as r
from mqttkit import V5


def persistent(client, version, client_id, expiry=300, **kw):
    """A connection that resumes (or starts) a persistent session."""
    if version == V5:
        return client(version, client_id=client_id, clean=False, session_expiry=expiry, **kw)
    return client(version, client_id=client_id, clean=False, **kw)


def forget(client, version, client_id):
    """Ends a persistent session: connect clean and leave."""
    c = client(version, client_id=client_id, clean=True,
               session_expiry=0 if version == V5 else None)
    c.disconnect()


def test_offline_queueing_qos1_and_qos2(client, version, topic, cid):
    dev_id = cid("dev")
    dev = persistent(client, version, dev_id)
    assert not dev.session_present, "a new client id has no session"
    assert dev.subscribe(topic + "/q1", qos=1) == [1]
    assert dev.subscribe(topic + "/q2", qos=2) == [2]
    dev.disconnect()

    pub = client(version, client_id=cid("pub"))
    for i in range(20):
        pub.publish(f"{topic}/q{1 + i % 2}", b"%d" % i, qos=1 + i % 2)
    pub.publish(topic + "/q1", b"qos0 is not queued (may be dropped)", qos=0)

    back = persistent(client, version, dev_id)
    assert back.reason == 0 and back.session_present, "session-present=1 on resume"
    got = [m for m in back.drain(quiet=1.5) if m.qos > 0]
    seqs = sorted(int(m.payload) for m in got)
    assert seqs == list(range(20)), f"every QoS 1/2 message queued while offline: {seqs}"
    q2 = [int(m.payload) for m in got if m.topic.endswith("/q2")]
    assert q2 == sorted(q2) and len(q2) == 10, "QoS 2 exactly once, in order"
    for m in got:
        assert m.qos == (1 if m.topic.endswith("/q1") else 2)
    back.disconnect()
    forget(client, version, dev_id)


def test_subscriptions_survive_in_the_session(client, version, topic, cid):
    dev_id = cid("dev")
    dev = persistent(client, version, dev_id)
    dev.subscribe(topic, qos=1)
    dev.disconnect()
    back = persistent(client, version, dev_id)
    assert back.session_present
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic, b"live after resume", qos=1)
    assert back.recv(5).payload == b"live after resume", "no re-subscribe needed"
    back.disconnect()
    forget(client, version, dev_id)


def test_clean_session_forgets(client, version, topic, cid):
    dev_id = cid("dev")
    dev = persistent(client, version, dev_id)
    dev.subscribe(topic, qos=1)
    dev.disconnect()
    fresh = client(version, client_id=dev_id, clean=True,
                   session_expiry=0 if version == V5 else None)
    assert not fresh.session_present, "clean session / clean start discards the session"
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic, b"nobody", qos=1)
    fresh.assert_nothing(1.0)


def test_v5_session_expiry_ends_the_session(client, topic, cid):
    dev_id = cid("dev")
    dev = persistent(client, V5, dev_id, expiry=1)
    dev.subscribe(topic, qos=1)
    dev.disconnect()
    time.sleep(2.5)
    client(V5, client_id=cid("pub")).publish(topic, b"after expiry", qos=1)
    back = persistent(client, V5, dev_id, expiry=0)
    assert not back.session_present, "the session expired 1 s after the disconnect"
    back.assert_nothing(1.0)


def test_v5_session_expiry_zero_is_not_persistent(client, topic, cid):
    dev_id = cid("dev")
    dev = client(V5, client_id=dev_id, clean=False, session_expiry=0)
    dev.subscribe(topic, qos=1)
    dev.disconnect()
    back = client(V5, client_id=dev_id, clean=False, session_expiry=0)
    assert not back.session_present


def test_v5_disconnect_can_shorten_session_expiry(client, raw, topic, cid):
    """DISCONNECT with Session Expiry 0 ends a session that was to last 300 s."""
    dev_id = cid("dev")
    dev = raw(5)
    assert dev.handshake(dev_id, clean=True, properties={"session_expiry": 300}).reason == 0
    dev.send(r.subscribe(1, [(topic, 1)]))
    assert dev.expect(r.SUBACK).reasons == [1]
    dev.send(r.disconnect(0, properties={"session_expiry": 0}))
    dev.until_closed(5)
    back = raw(5)
    ack = back.handshake(dev_id, clean=False, properties={"session_expiry": 0})
    assert ack.reason == 0 and not ack.session_present


def test_takeover_closes_the_first_connection(client, version, topic, cid):
    dev_id = cid("dev")
    first = client(version, client_id=dev_id)
    first.subscribe(topic, qos=1)
    second = client(version, client_id=dev_id)
    assert second.reason == 0
    assert first.disconnected.wait(5), "the older connection is closed on takeover"
    second.subscribe(topic, qos=1)
    client(version, client_id=cid("pub")).publish(topic, b"to the new one", qos=1)
    assert second.recv(5).payload == b"to the new one"
    first.assert_nothing(0.5)


def test_takeover_keeps_a_persistent_session(client, version, topic, cid):
    dev_id = cid("dev")
    first = persistent(client, version, dev_id)
    first.subscribe(topic, qos=1)
    second = persistent(client, version, dev_id)
    assert second.session_present, "the session moves to the new connection"
    assert first.disconnected.wait(5)
    client(version, client_id=cid("pub")).publish(topic, b"kept", qos=1)
    assert second.recv(5).payload == b"kept"
    second.disconnect()
    forget(client, version, dev_id)


@pytest.mark.mosquitto_deviation(
    "2.0.11 closes the older connection without sending DISCONNECT 0x8E")
def test_v5_takeover_sends_disconnect_0x8e(raw, cid):
    dev_id = cid("dev")
    first = raw(5)
    assert first.handshake(dev_id).reason == 0
    second = raw(5)
    assert second.handshake(dev_id).reason == 0
    got = first.until_closed(5)
    assert got and got[-1].type == r.DISCONNECT, f"a DISCONNECT before the close: {got}"
    assert got[-1].reason == 0x8E, "reason 0x8E session taken over"
