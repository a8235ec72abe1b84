"""CONNECT rules: client identifiers (assigned in 5.0, rejected in 3.1.1 without a clean
session), keep-alive enforcement at 1.5x (and the MQTT 5 Server Keep Alive), and
enhanced authentication with a method the broker does not support."""

import time

import pytest

import rawmqtt as r
from mqttkit import V5, V311, prop


def test_v5_empty_client_id_gets_an_assigned_identifier(client, topic):
    c = client(V5, client_id="", clean=True)
    assert c.reason == 0
    assigned = prop(c.connack[2], "AssignedClientIdentifier")
    assert assigned, "CONNACK carries Assigned Client Identifier [MQTT-3.2.2-16]"
    other = client(V5, client_id="", clean=True)
    assert prop(other.connack[2], "AssignedClientIdentifier") != assigned, "unique"
    # The assigned id works like any other: the connection is usable.
    c.subscribe(topic, qos=1)
    other.publish(topic, b"hi", qos=1)
    assert c.recv(5).payload == b"hi"


def test_v5_empty_client_id_without_clean_start(raw):
    """MQTT 5 leaves this to the server: accept with an assigned id (Mosquitto) or
    refuse with 0x85 (client identifier not valid)."""
    c = raw(5)
    ack = c.handshake("", clean=False)
    if ack.reason == 0:
        assert ack.props.get("assigned_client_id")
    else:
        assert ack.reason == 0x85
        c.until_closed(5)


def test_v311_empty_client_id_with_clean_session_is_accepted(client):
    c = client(V311, client_id="", clean=True)
    assert c.reason == 0


def test_v311_empty_client_id_without_clean_session_is_rejected(raw):
    c = raw(4)
    ack = c.handshake("", clean=False)
    assert ack.reason == 0x02, "CONNACK 0x02 identifier rejected [MQTT-3.1.3-8]"
    c.until_closed(5)


def test_long_client_ids_are_accepted(client):
    """Servers MUST accept 1-23 characters of 0-9a-zA-Z and MAY accept more; both
    incumbents accept long ids, and devices use them (serial numbers, UUIDs)."""
    for cid in ("a", "A1b2C3d4E5f6G7h8I9j0K1l", "device-" + "x" * 100):
        assert client(V5, client_id=cid).reason == 0


COARSE_KEEPALIVE = (
    "checks keep alives in coarse steps: seen closing 1 s keep alives after 1.1-2.6 s and "
    "2 s ones after ~6 s, not within 1.5x"
)


@pytest.mark.parametrize("v,ka", [(4, 1), (5, 1), (4, 2), (5, 2)],
                         ids=["v311-1s", "v5-1s", "v311-2s", "v5-2s"])
def test_silent_client_is_disconnected(raw, cid, v, ka):
    """A client that sends nothing after CONNACK is disconnected (generous bound: the
    next test checks the 1.5x)."""
    c = raw(v)
    ack = c.handshake(cid("idle"), keepalive=ka)
    assert ack.reason == 0
    effective = ack.props.get("server_keep_alive", ka)
    assert 0 < effective <= ka, "a server keep alive may only lower it here"
    t0 = time.monotonic()
    c.until_closed(1.5 * effective + 6.0)
    waited = time.monotonic() - t0
    assert waited >= effective, f"closed after {waited:.2f}s, before the keep alive ran out"


@pytest.mark.mosquitto_deviation(COARSE_KEEPALIVE)
@pytest.mark.parametrize("v,ka", [(4, 1), (5, 1), (4, 2), (5, 2)],
                         ids=["v311-1s", "v5-1s", "v311-2s", "v5-2s"])
def test_keep_alive_is_enforced_at_one_and_a_half_times(raw, cid, v, ka):
    """Disconnected once 1.5x the keep alive has passed [MQTT-3.1.2-24], with 0.5 s of
    scheduling slack, and not before the keep alive itself."""
    c = raw(v)
    ack = c.handshake(cid("idle"), keepalive=ka)
    assert ack.reason == 0
    effective = ack.props.get("server_keep_alive", ka)
    t0 = time.monotonic()
    c.until_closed(1.5 * effective + 0.5)
    waited = time.monotonic() - t0
    assert waited >= effective, f"closed after {waited:.2f}s, before the keep alive ran out"


@pytest.mark.parametrize("v", [4, 5], ids=["v311", "v5"])
def test_pinging_client_stays_connected(raw, cid, v):
    c = raw(v)
    assert c.handshake(cid("pinger"), keepalive=1).reason == 0
    for _ in range(5):
        time.sleep(0.6)
        c.send(r.pingreq())
        assert c.expect(r.PINGRESP, 2).type == r.PINGRESP


def test_keep_alive_timeout_publishes_the_will(client, raw, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    c = raw(4)
    assert c.handshake(cid("silent"), keepalive=1, will=(topic, b"timed out", 1, False)).reason == 0
    assert sub.recv(10).payload == b"timed out"


def test_keep_alive_zero_is_not_enforced(raw, cid):
    c = raw(5)
    ack = c.handshake(cid("nokeepalive"), keepalive=0)
    assert ack.reason == 0
    # Mosquitto answers keep alive 0 with Server Keep Alive 65535 (its max_keepalive):
    # still no enforcement within seconds.
    assert ack.props.get("server_keep_alive", 65535) >= 60
    with pytest.raises(TimeoutError):
        c.read(3.5)


def test_v5_server_keep_alive_is_respected_if_sent(raw, cid):
    """A very long keep alive: if the broker answers with Server Keep Alive, the client
    must use that value [MQTT-3.2.2-21] and the broker enforces it."""
    c = raw(5)
    ack = c.handshake(cid("long"), keepalive=65535)
    assert ack.reason == 0
    ska = ack.props.get("server_keep_alive")
    if ska is None:
        return
    assert 0 < ska <= 65535
    if ska <= 10:
        c.until_closed(1.5 * ska + 2.0)


def test_v5_unsupported_authentication_method(raw, cid):
    c = raw(5)
    ack = c.handshake(cid("auth"), properties={"auth_method": "X-NOT-SUPPORTED"})
    assert ack.reason == 0x8C, f"CONNACK 0x8C bad authentication method, got {ack.reason:#x}"
    c.until_closed(5)


def test_v5_auth_packet_without_a_method_is_a_protocol_error(raw, cid):
    """AUTH on a connection whose CONNECT named no authentication method (a client MUST
    NOT send one then, MQTT 5 section 4.12):
    the broker closes it, with DISCONNECT 0x82 (protocol error) if it says why."""
    c = raw(5)
    assert c.handshake(cid("auth2")).reason == 0
    c.send(r.packet(r.AUTH, 0, bytes([0x18]) + r.props({"auth_method": "X"})))
    got = c.until_closed(5)
    if got:
        assert got[-1].type == r.DISCONNECT and got[-1].reason in (0x82, 0x8C), got


def test_unsupported_protocol_level(raw, cid):
    """Protocol level 6 does not exist: CONNACK 0x01 (3.1.1 style) or 0x84
    (unsupported protocol version) and close [MQTT-3.1.2-2]."""
    c = raw(5)
    body = r.utf8("MQTT") + bytes([6, 0x02]) + b"\x00\x3c" + r.utf8(cid("lvl"))
    c.send(r.packet(r.CONNECT, 0, body))
    got = c.until_closed(5)
    if got:
        assert got[0].type == r.CONNACK and got[0].reason in (0x01, 0x84), got
