"""Bad input over raw sockets: every malformed or forbidden packet gets the spec's reason
code or a disconnect, and nothing else is affected. The `bystander` fixture holds a v5
connection opened before the bad input; at teardown it must still be connected and do a
QoS 1 round trip, and a fresh connection must be accepted (the broker is up).

Where the spec mandates a reason code (a Topic Alias out of range: 0x94; PUBREL for an
unknown id: PUBCOMP 0x92; a packet above the server's Maximum Packet Size: 0x95) the
test asserts exactly that code. Where it only says "Malformed Packet" or "Protocol
Error" and leaves the DISCONNECT optional, a v5 DISCONNECT, if one is sent, must carry a
code from the set the spec allows for that case; a plain close is always acceptable.

The Maximum Packet Size tests need a broker that announces one in CONNACK; Mosquitto
does only with `max_packet_size` set (they were validated against a second Mosquitto
with `max_packet_size 20000`) and they skip otherwise."""

import socket
import struct

import pytest

import rawmqtt as r

MALFORMED, PROTOCOL_ERROR = 0x81, 0x82
TOPIC_FILTER_INVALID, TOPIC_NAME_INVALID = 0x8F, 0x90
PACKET_ID_NOT_FOUND, TOPIC_ALIAS_INVALID, PACKET_TOO_LARGE = 0x92, 0x94, 0x95

VERSIONS = pytest.mark.parametrize("v", [4, 5], ids=["v311", "v5"])


def send(c, data):
    """Sends, tolerating a broker that already closed (it may do so mid-write)."""
    try:
        c.send(data)
    except OSError:
        pass


def refused(c, codes, allow=(), timeout=5.0):
    """The broker closes `c`. Every DISCONNECT it sends first carries one of `codes`;
    besides DISCONNECT only packet types in `allow` may arrive. Returns the packets."""
    try:
        got = c.until_closed(timeout)
    except ConnectionResetError:
        return []
    for p in got:
        if p.type == r.DISCONNECT:
            assert p.reason in codes, (
                f"DISCONNECT reason 0x{p.reason:02X}, expected one of "
                f"{[hex(x) for x in codes]}"
            )
        else:
            assert p.type in allow, f"unexpected packet before the close: {p}"
    return got


def connected(raw, v, name, **kw):
    c = raw(v)
    ack = c.handshake(name, **kw)
    assert ack.reason == 0
    return c, ack


def still_usable(c):
    """The connection answers a PINGREQ: the broker did not close it."""
    c.send(r.pingreq())
    assert c.expect(r.PINGRESP, 5).type == r.PINGRESP


# --------------------------------------------------------------- remaining length


@VERSIONS
def test_remaining_length_of_five_bytes_after_connect(raw, cid, bystander, v):
    """A variable byte integer has at most 4 bytes [MQTT-1.5.5-1]: Malformed Packet."""
    c, _ = connected(raw, v, cid("rl5"))
    send(c, bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]) + b"\x00" * 16)
    refused(c, [MALFORMED])


def test_remaining_length_of_five_bytes_in_connect(raw, bystander):
    c = raw(5)
    send(c, bytes([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]) + b"\x00" * 16)
    got = refused(c, [MALFORMED], allow=(r.CONNACK,))
    assert all(p.reason >= 0x80 for p in got if p.type == r.CONNACK), "no success"


@VERSIONS
def test_publish_truncated_inside_its_topic(raw, cid, topic, bystander, v):
    """Remaining length 1: the topic length field itself is cut off."""
    c, _ = connected(raw, v, cid("trunc"))
    send(c, bytes([0x30, 0x01, 0x00]))
    refused(c, [MALFORMED])


@VERSIONS
def test_topic_length_beyond_the_packet(raw, cid, topic, bystander, v):
    """A string length that runs past the remaining length is a Malformed Packet."""
    c, _ = connected(raw, v, cid("strlen"))
    body = struct.pack(">H", 200) + topic.encode()
    send(c, r.packet(r.PUBLISH, 0, body))
    refused(c, [MALFORMED])


def test_connect_truncated_inside_the_protocol_name(raw, bystander):
    c = raw(5)
    send(c, r.packet(r.CONNECT, 0, b"\x00\x04MQ"))
    refused(c, [MALFORMED], allow=(r.CONNACK,))


@VERSIONS
def test_eof_in_the_middle_of_a_packet(raw, cid, topic, bystander, v):
    """The client announces 100 bytes, sends 10 and half-closes: the broker drops the
    connection without delivering the partial PUBLISH."""
    c, _ = connected(raw, v, cid("eof"))
    send(c, bytes([0x30, 100]) + b"\x00\x08" + topic.encode()[:8])
    c.sock.shutdown(socket.SHUT_WR)
    refused(c, [MALFORMED])


# --------------------------------------------------------------- CONNECT order


@VERSIONS
def test_second_connect_is_a_protocol_error(raw, cid, bystander, v):
    """[MQTT-3.1.0-2]: a second CONNECT is a Protocol Error; the connection is closed."""
    c, _ = connected(raw, v, cid("twice"))
    send(c, r.connect(cid("twice"), version=v))
    refused(c, [PROTOCOL_ERROR])


BEFORE_CONNECT = {
    "publish": r.publish("a/b", b"x", qos=0, version=4),
    "publish-qos1": r.publish("a/b", b"x", qos=1, pid=1, version=4),
    "subscribe": r.subscribe(1, [("a/#", 0)], version=4),
    "pingreq": r.pingreq(),
    "disconnect": r.disconnect(),
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}


@pytest.mark.parametrize("first", list(BEFORE_CONNECT), ids=list(BEFORE_CONNECT))
def test_packets_before_connect_close_the_connection(raw, bystander, first):
    """[MQTT-3.1.0-1]: the first packet must be CONNECT; the server closes otherwise
    and answers nothing (not even PINGRESP)."""
    c = raw(4)
    send(c, BEFORE_CONNECT[first])
    refused(c, [])


# --------------------------------------------------------------- strings

BAD_STRINGS = {
    "invalid-utf8": b"\xc3\x28",
    "overlong-slash": b"\xc0\xaf",
    "surrogate": b"\xed\xa0\x80",
    "nul": b"\x00",
}


def bad_topic(topic, kind):
    return topic.encode() + b"/x" + BAD_STRINGS[kind]


@VERSIONS
@pytest.mark.parametrize("kind", list(BAD_STRINGS), ids=list(BAD_STRINGS))
def test_bad_string_in_publish_topic(raw, client, cid, topic, bystander, v, kind):
    """[MQTT-1.5.4-1] no ill-formed UTF-8 or surrogates, [MQTT-1.5.4-2] no U+0000: a
    Malformed Packet. A wildcard subscriber of the prefix receives nothing."""
    watcher, _ = connected(raw, 5, cid("watch"))
    watcher.send(r.subscribe(1, [(topic + "/#", 0)]))
    watcher.expect(r.SUBACK)
    c, _ = connected(raw, v, cid("pub"))
    body = struct.pack(">H", len(bad_topic(topic, kind))) + bad_topic(topic, kind)
    if v == 5:
        body += b"\x00"
    send(c, r.packet(r.PUBLISH, 0, body + b"payload"))
    refused(c, [MALFORMED, TOPIC_NAME_INVALID])
    with pytest.raises(TimeoutError):
        watcher.expect(r.PUBLISH, 0.7)


@VERSIONS
@pytest.mark.parametrize("kind", list(BAD_STRINGS), ids=list(BAD_STRINGS))
def test_bad_string_in_subscribe_filter(raw, cid, topic, bystander, v, kind):
    """A filter with ill-formed UTF-8 or U+0000: a Malformed Packet (close), or the
    filter refused in SUBACK (0x80 in 3.1.1, 0x80/0x8F in 5.0) and nothing granted."""
    c, _ = connected(raw, v, cid("sub"))
    f = bad_topic(topic, kind)
    body = struct.pack(">H", 7) + (b"\x00" if v == 5 else b"") + struct.pack(">H", len(f))
    send(c, r.packet(r.SUBSCRIBE, 0x02, body + f + b"\x01"))
    filter_refused_or_closed(c, v)


def filter_refused_or_closed(c, v, count=1):
    try:
        p = c.read(5)
    except r.Closed:
        return
    if p.type == r.DISCONNECT:
        assert p.reason in (MALFORMED, PROTOCOL_ERROR, TOPIC_FILTER_INVALID), p
        refused(c, [MALFORMED, PROTOCOL_ERROR, TOPIC_FILTER_INVALID])
        return
    assert p.type == r.SUBACK, p
    allowed = (0x80,) if v == 4 else (0x80, TOPIC_FILTER_INVALID)
    assert len(p.reasons) == count and all(x in allowed for x in p.reasons), p.reasons


@VERSIONS
@pytest.mark.parametrize("kind", list(BAD_STRINGS), ids=list(BAD_STRINGS))
def test_bad_string_in_client_id(raw, cid, bystander, v, kind):
    """A malformed client id: closed, with at most a refusing CONNACK (0x02 identifier
    rejected in 3.1.1; 0x81 malformed or 0x85 client identifier not valid in 5.0)."""
    c = raw(v)
    ident = cid("id").encode() + BAD_STRINGS[kind]
    var = r.utf8("MQTT") + bytes([v, 0x02]) + struct.pack(">H", 30)
    if v == 5:
        var += b"\x00"
    send(c, r.packet(r.CONNECT, 0, var + struct.pack(">H", len(ident)) + ident))
    got = refused(c, [], allow=(r.CONNACK,))
    allowed = (0x02,) if v == 4 else (MALFORMED, 0x85)
    for p in got:
        assert p.reason in allowed, f"CONNACK 0x{p.reason:02X}"


# --------------------------------------------------------------- topics and filters


@VERSIONS
@pytest.mark.parametrize("suffix", ["+/x", "#", "x/+", "a+", "b#"])
@pytest.mark.parametrize("qos", [0, 1])
def test_wildcards_in_a_publish_topic(raw, cid, topic, bystander, v, suffix, qos):
    """[MQTT-3.3.2-2]: a Topic Name contains no wildcard. The publisher is closed (or,
    in 5.0 at QoS 1, refused with PUBACK 0x90 Topic Name invalid) and no subscriber,
    not even a wildcard one, receives the message."""
    watcher, _ = connected(raw, 5, cid("watch"))
    watcher.send(r.subscribe(1, [(topic + "/#", 0)]))
    watcher.expect(r.SUBACK)
    c, _ = connected(raw, v, cid("pub"))
    send(c, r.publish(f"{topic}/{suffix}", b"wild", qos=qos, pid=3, version=v))
    try:
        p = c.read(5)
    except r.Closed:
        p = None
    if p is not None and p.type == r.PUBACK:
        assert v == 5 and p.reason == TOPIC_NAME_INVALID, p
    elif p is not None:
        assert p.type == r.DISCONNECT and p.reason in (
            MALFORMED, PROTOCOL_ERROR, TOPIC_NAME_INVALID), p
        refused(c, [MALFORMED, PROTOCOL_ERROR, TOPIC_NAME_INVALID])
    with pytest.raises(TimeoutError):
        watcher.expect(r.PUBLISH, 0.7)


@VERSIONS
def test_empty_publish_topic_without_alias(raw, cid, bystander, v):
    """A zero-length Topic Name with no Topic Alias: [MQTT-4.7.3-1] / 3.3.2.3.4."""
    c, _ = connected(raw, v, cid("empty"))
    send(c, r.publish("", b"x", qos=0, version=v))
    refused(c, [MALFORMED, PROTOCOL_ERROR, TOPIC_NAME_INVALID])


INVALID_FILTERS = ["a/#/b", "a+", "a/b#", "#/a", "+a/b", "a/+b", ""]


@VERSIONS
@pytest.mark.parametrize("bad", INVALID_FILTERS, ids=[f or "empty" for f in INVALID_FILTERS])
def test_invalid_topic_filter(raw, cid, topic, bystander, v, bad):
    """[MQTT-4.7.1-1] `#` last and alone in its level, [MQTT-4.7.1-2] `+` alone in its
    level, [MQTT-4.7.3-1] at least one character: SUBACK failure or a disconnect. A
    valid filter is then still subscribable on a new connection."""
    c, _ = connected(raw, v, cid("sub"))
    f = f"{topic}/{bad}" if bad else ""
    send(c, r.subscribe(9, [(f, 1)], version=v))
    filter_refused_or_closed(c, v)


@VERSIONS
def test_invalid_filter_beside_a_valid_one(raw, client, cid, topic, bystander, v):
    """When the broker answers with SUBACK, the valid filter of the same SUBSCRIBE is
    granted and works; the invalid one is refused."""
    c, _ = connected(raw, v, cid("sub"))
    send(c, r.subscribe(4, [(topic + "/ok", 1), (topic + "/#/bad", 1)], version=v))
    try:
        p = c.read(5)
    except r.Closed:
        return
    if p.type == r.DISCONNECT:
        assert p.reason in (MALFORMED, PROTOCOL_ERROR, TOPIC_FILTER_INVALID), p
        return
    assert p.type == r.SUBACK and p.reasons[0] == 1 and p.reasons[1] >= 0x80, p.reasons
    pub, _ = connected(raw, 5, cid("pub"))
    pub.send(r.publish(topic + "/ok", b"fine", qos=1, pid=1))
    pub.expect(r.PUBACK)
    assert c.expect(r.PUBLISH).payload == b"fine"


# --------------------------------------------------------------- sizes


def broker_maximum_packet_size(raw, cid):
    c, ack = connected(raw, 5, cid("probe"))
    c.close()
    limit = ack.props.get("maximum_packet_size")
    if not limit:
        pytest.skip("the broker announces no Maximum Packet Size (Mosquitto: only with "
                    "max_packet_size set); run against one that does")
    return limit


@VERSIONS
def test_packet_above_the_maximum_packet_size(raw, cid, topic, bystander, v):
    """[MQTT-3.2.2-15] the client must not exceed the server's Maximum Packet Size; the
    server closes, in 5.0 with DISCONNECT 0x95 Packet too large if it sends one."""
    limit = broker_maximum_packet_size(raw, cid)
    c, _ = connected(raw, v, cid("big"))
    head = r.publish(topic, b"", qos=0, version=v)
    payload = b"B" * (limit + 1 - len(head) + 4)
    send(c, r.publish(topic, payload, qos=0, version=v))
    refused(c, [PACKET_TOO_LARGE])


@VERSIONS
def test_oversized_remaining_length_is_refused_before_the_body(raw, cid, bystander, v):
    """A header announcing 200 MB and no body: the broker refuses on the length alone,
    without waiting to buffer the packet."""
    broker_maximum_packet_size(raw, cid)
    c, _ = connected(raw, v, cid("huge"))
    send(c, bytes([0x30]) + r.varint(200 * 1024 * 1024) + b"\x00\x01a")
    refused(c, [PACKET_TOO_LARGE], timeout=3)


# --------------------------------------------------------------- flags and ids


@VERSIONS
def test_qos_3_is_malformed(raw, cid, topic, bystander, v):
    """[MQTT-3.3.1-4]: a PUBLISH with both QoS bits set is a Malformed Packet."""
    c, _ = connected(raw, v, cid("q3"))
    body = r.utf8(topic) + struct.pack(">H", 1) + (b"\x00" if v == 5 else b"")
    send(c, r.packet(r.PUBLISH, 0x06, body + b"x"))
    refused(c, [MALFORMED])


def reserved_flag_cases(topic, v):
    sub = r.subscribe(1, [(topic, 1)], version=v)
    unsub_body = struct.pack(">H", 2) + (b"\x00" if v == 5 else b"") + r.utf8(topic)
    cases = {
        "subscribe-flags-0": bytes([sub[0] & 0xF0]) + sub[1:],
        "unsubscribe-flags-0": r.packet(r.UNSUBSCRIBE, 0, unsub_body),
        "pubrel-flags-0": r.packet(r.PUBREL, 0, struct.pack(">H", 5)),
        "pingreq-flags-1": r.packet(r.PINGREQ, 1, b""),
        "disconnect-flags-1": r.packet(r.DISCONNECT, 1, b""),
        "packet-type-0": r.packet(0, 0, b""),
    }
    if v == 5:
        cases["subscription-options-bits-6-7"] = r.subscribe(1, [(topic, 0xC1)])
        cases["retain-handling-3"] = r.subscribe(1, [(topic, 0x31)])
    else:
        cases["requested-qos-upper-bits"] = r.subscribe(1, [(topic, 0x81)], version=4)
        cases["auth-in-311"] = r.packet(r.AUTH, 0, b"")
    return cases


@VERSIONS
@pytest.mark.parametrize("case", [
    "subscribe-flags-0", "unsubscribe-flags-0", "pubrel-flags-0",
    pytest.param("pingreq-flags-1", marks=pytest.mark.mosquitto_deviation(
        "answers PINGRESP to a PINGREQ with a reserved flag bit set")),
    "disconnect-flags-1", "packet-type-0", "subscription-options-bits-6-7",
    "retain-handling-3", "requested-qos-upper-bits", "auth-in-311"])
def test_reserved_bits_set(raw, cid, topic, bystander, v, case):
    """Fixed-header flags are fixed per type [MQTT-2.1.3-1] ([MQTT-3.8.1-1],
    [MQTT-3.10.1-1], [MQTT-3.6.1-1]); reserved subscription option bits [MQTT-3.8.3-5]
    and retain handling 3 are malformed; type 0 and, in 3.1.1, type 15 are reserved."""
    cases = reserved_flag_cases(topic, v)
    if case not in cases:
        pytest.skip(f"{case} does not apply to this protocol version")
    c, _ = connected(raw, v, cid("flags"))
    send(c, cases[case])
    refused(c, [MALFORMED, PROTOCOL_ERROR])


@VERSIONS
@pytest.mark.parametrize("case", ["reserved-bit-0", "will-qos-without-will",
                                  "will-retain-without-will", "will-qos-3",
                                  "password-without-username-311"])
def test_connect_flags(raw, cid, bystander, v, case):
    """CONNECT flag rules: reserved bit 0 is zero [MQTT-3.1.2-3]; Will QoS and Will
    Retain are 0 without the Will flag [MQTT-3.1.2-11/13/15]; Will QoS 3 is malformed
    [MQTT-3.1.2-14]; in 3.1.1 a password needs a user name [MQTT-3.1.2-22]."""
    if case == "password-without-username-311" and v == 5:
        pytest.skip("MQTT 5 allows a password without a user name")
    flags = {"reserved-bit-0": 0x03, "will-qos-without-will": 0x0A,
             "will-retain-without-will": 0x22, "will-qos-3": 0x1E,
             "password-without-username-311": 0x42}[case]
    var = r.utf8("MQTT") + bytes([v, flags]) + struct.pack(">H", 30)
    if v == 5:
        var += b"\x00"
    payload = r.utf8(cid("cf"))
    if flags & 0x04:
        payload += (b"\x00" if v == 5 else b"") + r.utf8("w") + r.utf8("x")
    if flags & 0x40:
        payload += r.utf8("secret")
    c = raw(v)
    send(c, r.packet(r.CONNECT, 0, var + payload))
    got = refused(c, [], allow=(r.CONNACK,))
    for p in got:
        assert p.reason != 0, "the malformed CONNECT was accepted"
        if v == 5:
            assert p.reason in (MALFORMED, PROTOCOL_ERROR), f"CONNACK 0x{p.reason:02X}"


@VERSIONS
@pytest.mark.parametrize("case", ["publish-qos1", "publish-qos2", "subscribe",
                                  "unsubscribe"])
def test_packet_id_zero(raw, cid, topic, bystander, v, case):
    """[MQTT-2.2.1-3]: PUBLISH with QoS > 0, SUBSCRIBE and UNSUBSCRIBE carry a non-zero
    Packet Identifier."""
    c, _ = connected(raw, v, cid("pid0"))
    data = {
        "publish-qos1": r.publish(topic, b"x", qos=1, pid=0, version=v),
        "publish-qos2": r.publish(topic, b"x", qos=2, pid=0, version=v),
        "subscribe": r.subscribe(0, [(topic, 1)], version=v),
        "unsubscribe": r.packet(r.UNSUBSCRIBE, 0x02, struct.pack(">H", 0)
                                + (b"\x00" if v == 5 else b"") + r.utf8(topic)),
    }[case]
    send(c, data)
    refused(c, [MALFORMED, PROTOCOL_ERROR])


# --------------------------------------------------------------- topic aliases


def test_topic_alias_above_the_maximum(raw, cid, topic, bystander):
    """[MQTT-3.3.2-9]/[MQTT-3.3.2-10]: a Topic Alias above the server's Topic Alias
    Maximum is answered with DISCONNECT 0x94 Topic Alias invalid (the code the spec
    defines for exactly this case), then the close."""
    c, ack = connected(raw, 5, cid("alias"))
    maximum = ack.props.get("topic_alias_maximum", 0)
    send(c, r.publish(topic, b"x", qos=0, properties={"topic_alias": maximum + 1}))
    got = refused(c, [TOPIC_ALIAS_INVALID])
    assert any(p.type == r.DISCONNECT for p in got), "DISCONNECT 0x94 is sent"


def test_topic_alias_zero(raw, cid, topic, bystander):
    """[MQTT-3.3.2-8]: a Topic Alias of 0 is not permitted. The spec names no code for
    it (Mosquitto sends 0x81); 0x94 Topic Alias invalid is the natural one."""
    c, _ = connected(raw, 5, cid("alias0"))
    send(c, r.publish(topic, b"x", qos=0, properties={"topic_alias": 0}))
    refused(c, [MALFORMED, PROTOCOL_ERROR, TOPIC_ALIAS_INVALID])


def test_unknown_topic_alias_with_empty_topic(raw, cid, bystander):
    """An alias that was never set, with an empty Topic Name: a Protocol Error."""
    c, ack = connected(raw, 5, cid("alias"))
    if not ack.props.get("topic_alias_maximum"):
        pytest.skip("the broker accepts no topic aliases")
    send(c, r.publish("", b"x", qos=0, properties={"topic_alias": 1}))
    refused(c, [PROTOCOL_ERROR, TOPIC_ALIAS_INVALID])


# --------------------------------------------------------------- QoS 2 state


@pytest.mark.parametrize("v", [4, pytest.param(5, marks=pytest.mark.mosquitto_deviation(
    "answers PUBCOMP 0x00 Success to a PUBREL it holds no QoS 2 state for"))],
    ids=["v311", "v5"])
def test_pubrel_for_an_unknown_id(raw, cid, bystander, v):
    """PUBREL for an id the broker holds no QoS 2 state for: PUBCOMP with the same id
    (4.3.3), in 5.0 with 0x92 Packet Identifier not found; the connection stays up."""
    c, _ = connected(raw, v, cid("pubrel"))
    c.send(r.ack(r.PUBREL, 4242, version=v))
    p = c.expect(r.PUBCOMP, 5)
    assert p.pid == 4242
    if v == 5:
        assert p.reason == PACKET_ID_NOT_FOUND, f"PUBCOMP 0x{p.reason:02X}"
    still_usable(c)


# --------------------------------------------------------------- acknowledged survives


@VERSIONS
def test_acknowledged_messages_survive_the_publishers_bad_input(raw, cid, topic,
                                                                bystander, v):
    """Messages the broker acknowledged (PUBACK, PUBCOMP) before the same connection
    sent garbage are delivered: the close loses nothing acknowledged."""
    sub, _ = connected(raw, 5, cid("sub"))
    sub.send(r.subscribe(1, [(topic, 2)]))
    sub.expect(r.SUBACK)
    c, _ = connected(raw, v, cid("pub"))
    c.send(r.publish(topic, b"one", qos=1, pid=1, version=v))
    assert c.expect(r.PUBACK).pid == 1
    c.send(r.publish(topic, b"two", qos=2, pid=2, version=v))
    assert c.expect(r.PUBREC).pid == 2
    c.send(r.ack(r.PUBREL, 2, version=v))
    assert c.expect(r.PUBCOMP).pid == 2
    send(c, bytes([0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]))
    refused(c, [MALFORMED])
    got = []
    for _ in range(2):
        p = sub.expect(r.PUBLISH, 5)
        got.append(p.payload)
        if p.qos == 1:
            sub.send(r.ack(r.PUBACK, p.pid))
        elif p.qos == 2:
            sub.send(r.ack(r.PUBREC, p.pid))
            sub.expect(r.PUBREL)
            sub.send(r.ack(r.PUBCOMP, p.pid))
    assert got == [b"one", b"two"]
