"""MQTT 5 properties end to end: user properties, content type, response topic,
correlation data, payload format indicator, message expiry, topic aliases in both
directions, subscription identifiers, no-local, maximum packet size, request/response
information and reason strings."""

import time

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.subscribeoptions import SubscribeOptions

import rawmqtt as r
from mqttkit import V5, prop, props


def test_publish_properties_round_trip(client, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    pub = client(V5, client_id=cid("pub"))
    user = [("k", "v1"), ("k", "v2"), ("ünïcode", "välue"), ("empty", "")]
    p = props(PacketTypes.PUBLISH,
              UserProperty=user,
              ContentType="application/json; charset=utf-8",
              ResponseTopic=topic + "/reply",
              CorrelationData=b"\x00\x01corr\xff",
              PayloadFormatIndicator=1)
    pub.publish(topic, '{"ok": "✓"}'.encode(), qos=1, properties=p)
    msg = sub.recv(5)
    assert msg.payload == '{"ok": "✓"}'.encode()
    assert prop(msg, "UserProperty") == user, "user properties in order, duplicates kept"
    assert prop(msg, "ContentType") == "application/json; charset=utf-8"
    assert prop(msg, "ResponseTopic") == topic + "/reply"
    assert prop(msg, "CorrelationData") == b"\x00\x01corr\xff"
    assert prop(msg, "PayloadFormatIndicator") == 1


def test_request_response_pattern(client, topic, cid):
    """A requester names a response topic and correlation data; a responder answers
    there with the same correlation data."""
    responder = client(V5, client_id=cid("responder"))
    responder.subscribe(topic + "/req", qos=1)
    requester = client(V5, client_id=cid("requester"))
    requester.subscribe(topic + "/resp", qos=1)
    requester.publish(topic + "/req", b"ping", qos=1, properties=props(
        PacketTypes.PUBLISH, ResponseTopic=topic + "/resp", CorrelationData=b"42"))
    req = responder.recv(5)
    responder.publish(prop(req, "ResponseTopic"), b"pong", qos=1, properties=props(
        PacketTypes.PUBLISH, CorrelationData=prop(req, "CorrelationData")))
    resp = requester.recv(5)
    assert resp.payload == b"pong" and prop(resp, "CorrelationData") == b"42"


def test_message_expiry_is_forwarded_and_counts_down(client, topic, cid):
    dev_id = cid("dev")
    dev = client(V5, client_id=dev_id, clean=False, session_expiry=300)
    dev.subscribe(topic, qos=1)
    live = client(V5, client_id=cid("pub"))
    live.publish(topic, b"live", qos=1, properties=props(
        PacketTypes.PUBLISH, MessageExpiryInterval=60))
    m = dev.recv(5)
    assert 58 <= prop(m, "MessageExpiryInterval") <= 60
    dev.disconnect()
    live.publish(topic, b"short", qos=1, properties=props(
        PacketTypes.PUBLISH, MessageExpiryInterval=1))
    live.publish(topic, b"long", qos=1, properties=props(
        PacketTypes.PUBLISH, MessageExpiryInterval=60))
    live.publish(topic, b"forever", qos=1)
    time.sleep(3.2)
    back = client(V5, client_id=dev_id, clean=False, session_expiry=0)
    assert back.session_present
    got = {m.payload: m for m in back.drain(quiet=1.0)}
    assert b"short" not in got, "a message that expired while queued is not delivered"
    assert set(got) == {b"long", b"forever"}
    remaining = prop(got[b"long"], "MessageExpiryInterval")
    assert remaining is not None and remaining <= 57, \
        f"the interval is reduced by the time spent queued: {remaining}"
    assert prop(got[b"forever"], "MessageExpiryInterval") is None


def test_retained_message_expires(client, topic, cid):
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic, b"soon gone", qos=1, retain=True, properties=props(
        PacketTypes.PUBLISH, MessageExpiryInterval=1))
    time.sleep(2.5)
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    sub.assert_nothing(1.0)


def test_topic_alias_client_to_server(client, raw, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic + "/#", qos=1)
    c = raw(5)
    ack = c.handshake(cid("aliaser"))
    maximum = ack.props.get("topic_alias_maximum", 0)
    assert maximum >= 1, "the server accepts topic aliases (Topic Alias Maximum > 0)"
    c.send(r.publish(topic + "/a", b"1", qos=1, pid=1, properties={"topic_alias": 1}))
    c.send(r.publish("", b"2", qos=1, pid=2, properties={"topic_alias": 1}))
    # Re-map alias 1 to another topic [MQTT-3.3.2-12]; then use the highest alias.
    c.send(r.publish(topic + "/b", b"3", qos=1, pid=3, properties={"topic_alias": 1}))
    c.send(r.publish("", b"4", qos=1, pid=4, properties={"topic_alias": 1}))
    c.send(r.publish(topic + "/c", b"5", qos=1, pid=5, properties={"topic_alias": maximum}))
    c.send(r.publish("", b"6", qos=1, pid=6, properties={"topic_alias": maximum}))
    acks = [c.expect(r.PUBACK) for _ in range(6)]
    assert all(a.reason in (0x00, 0x10) for a in acks), acks
    got = [(m.topic, m.payload) for m in sub.collect(6, 5)]
    assert got == [(topic + "/a", b"1"), (topic + "/a", b"2"), (topic + "/b", b"3"),
                   (topic + "/b", b"4"), (topic + "/c", b"5"), (topic + "/c", b"6")]


def _receive_resolving_aliases(c, n):
    """Reads n PUBLISHes, resolving topic aliases as a client must; returns
    (topics, number of packets that used an alias)."""
    aliases, topics, used = {}, [], 0
    while len(topics) < n:
        p = c.read(5)
        if p.type != r.PUBLISH:
            continue
        alias = p.props.get("topic_alias")
        if alias is not None:
            used += 1
            if p.topic:
                aliases[alias] = p.topic
            assert alias in aliases, f"alias {alias} used before it was set"
            topics.append(aliases[alias])
        else:
            topics.append(p.topic)
        if p.qos:
            c.send(r.ack(r.PUBACK, p.pid))
    return topics, used


def test_no_topic_alias_to_a_client_that_allows_none(client, raw, topic, cid):
    c = raw(5)
    assert c.handshake(cid("noalias")).reason == 0
    c.send(r.subscribe(1, [(topic, 1)]))
    c.expect(r.SUBACK)
    pub = client(V5, client_id=cid("pub"))
    for i in range(5):
        pub.publish(topic, b"%d" % i, qos=1)
    topics, used = _receive_resolving_aliases(c, 5)
    assert used == 0, "no Topic Alias to a client without Topic Alias Maximum [MQTT-3.3.2-9]"
    assert topics == [topic] * 5


@pytest.mark.mosquitto_deviation("never sends topic aliases to clients")
def test_topic_alias_server_to_client(client, raw, topic, cid):
    c = raw(5)
    assert c.handshake(cid("alias"), properties={"topic_alias_maximum": 2}).reason == 0
    c.send(r.subscribe(1, [(topic + "/#", 1)]))
    c.expect(r.SUBACK)
    pub = client(V5, client_id=cid("pub"))
    sent = [f"{topic}/{'abc'[i % 3]}" for i in range(12)]
    for t in sent:
        pub.publish(t, b"x", qos=1)
    topics, used = _receive_resolving_aliases(c, 12)
    assert topics == sent, "every alias resolves to the topic that was published"
    assert used > 0, "the server uses topic aliases when the client allows them"


def test_subscription_identifiers(client, topic, cid):
    c = client(V5, client_id=cid("c"))
    assert prop(c.connack[2], "SubscriptionIdentifierAvailable", 1) == 1
    c.subscribe(topic + "/+", qos=1, properties=props(
        PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7))
    c.subscribe(topic + "/#", qos=1, properties=props(
        PacketTypes.SUBSCRIBE, SubscriptionIdentifier=268435455))
    c.subscribe(topic + "/none/#", qos=1)
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic + "/x", b"both", qos=1)
    ids = set()
    for m in c.drain(quiet=1.0):
        ids.update(prop(m, "SubscriptionIdentifier", []))
    assert ids == {7, 268435455}, "each matching subscription's identifier is delivered"
    pub.publish(topic + "/none/y", b"one", qos=1)
    got = c.drain(quiet=1.0)
    ids = set()
    for m in got:
        ids.update(prop(m, "SubscriptionIdentifier", []))
    assert got and ids == {268435455}, "only the identifiers of matching subscriptions"


def test_no_local(client, topic, cid):
    c = client(V5, client_id=cid("c"))
    c.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=True))
    c.publish(topic, b"mine", qos=1)
    c.assert_nothing(1.0)
    other = client(V5, client_id=cid("other"))
    other.publish(topic, b"theirs", qos=1)
    assert c.recv(5).payload == b"theirs"
    local = client(V5, client_id=cid("local"))
    local.subscribe(topic, options=SubscribeOptions(qos=1, noLocal=False))
    local.publish(topic, b"echo", qos=1)
    assert local.recv(5).payload == b"echo", "without no-local a client gets its own"


def test_client_maximum_packet_size_is_respected(client, raw, topic, cid):
    """The server must not send a packet larger than the client's Maximum Packet Size;
    it drops that message for this client [MQTT-3.1.2-25]."""
    c = raw(5)
    assert c.handshake(cid("small"), properties={"maximum_packet_size": 128}).reason == 0
    c.send(r.subscribe(1, [(topic, 1)]))
    c.expect(r.SUBACK)
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic, b"L" * 500, qos=1)
    pub.publish(topic, b"small", qos=1)
    p = c.expect(r.PUBLISH, 5)
    assert p.payload == b"small", "the oversized message was not sent to this client"
    c.send(r.ack(r.PUBACK, p.pid))
    with pytest.raises(TimeoutError):
        c.expect(r.PUBLISH, 1.0)


@pytest.mark.mosquitto_deviation("advertises no Maximum Packet Size unless max_packet_size is set")
def test_server_advertises_maximum_packet_size(client, cid):
    c = client(V5, client_id=cid("c"))
    assert prop(c.connack[2], "MaximumPacketSize"), "CONNACK carries Maximum Packet Size"


def test_no_response_information_unless_requested(raw, cid):
    c = raw(5)
    ack = c.handshake(cid("c"), properties={"request_response_info": 0})
    assert ack.reason == 0 and "response_info" not in ack.props, "[MQTT-3.1.2-28]"


@pytest.mark.mosquitto_deviation("ignores Request Response Information")
def test_response_information_when_requested(client, raw, cid):
    c = raw(5)
    ack = c.handshake(cid("c"), properties={"request_response_info": 1})
    assert ack.reason == 0
    info = ack.props.get("response_info")
    assert info, "CONNACK carries Response Information"
    # It is the basis of a response topic the client may use.
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(info + "/#", qos=1)
    sub.publish(info + "/r", b"ok", qos=1)
    assert sub.recv(5).payload == b"ok"


def test_no_reason_string_when_problem_information_is_off(raw, topic, cid):
    """Request Problem Information 0: no Reason String or User Property on anything but
    PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]."""
    c = raw(5)
    assert c.handshake(cid("quiet"), properties={"request_problem_info": 0}).reason == 0
    c.send(r.publish(topic + "/nobody", b"x", qos=1, pid=1))
    a = c.expect(r.PUBACK)
    assert a.reason in (0x00, 0x10), "success or no matching subscribers"
    assert "reason_string" not in a.props and "user_property" not in a.props
    c.send(r.subscribe(2, [(topic, 1)]))
    s = c.expect(r.SUBACK)
    assert "reason_string" not in s.props


@pytest.mark.mosquitto_deviation("sends no Reason String with a refused CONNECT")
def test_reason_string_explains_a_refusal(raw, cid):
    c = raw(5)
    ack = c.handshake(cid("c"), properties={"auth_method": "X-NOT-SUPPORTED"})
    assert ack.reason == 0x8C
    assert ack.props.get("reason_string"), "a human-readable Reason String"


def test_payload_format_indicator_zero_passes_binary(client, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    pub = client(V5, client_id=cid("pub"))
    blob = bytes(range(256))
    pub.publish(topic, blob, qos=1, properties=props(
        PacketTypes.PUBLISH, PayloadFormatIndicator=0))
    m = sub.recv(5)
    assert m.payload == blob and prop(m, "PayloadFormatIndicator", 0) == 0
