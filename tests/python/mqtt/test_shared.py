"""Shared subscriptions (`$share/<group>/<filter>`): every message to exactly one member
of a group, balanced across members, each group independent of the others and of plain
subscriptions; a member that leaves with unacknowledged messages hands them on."""

import time

import pytest

from mqttkit import V5

N = 100


def test_balanced_each_message_to_exactly_one_member(client, version, topic, cid):
    members = [client(version, client_id=cid(f"m{i}")) for i in range(2)]
    for m in members:
        assert m.subscribe(f"$share/g/{topic}/#", qos=1) == [1]
    plain = client(version, client_id=cid("plain"))
    plain.subscribe(topic + "/#", qos=1)
    pub = client(version, client_id=cid("pub"))
    for i in range(N):
        pub.publish(f"{topic}/x", b"%d" % i, qos=1, wait=False)
    got = [[int(msg.payload) for msg in m.drain(quiet=1.5)] for m in members]
    everything = got[0] + got[1]
    assert sorted(everything) == list(range(N)), "every message to exactly one member"
    for share in got:
        assert len(share) >= N // 5, f"balanced across members: {[len(g) for g in got]}"
        assert share == sorted(share), "order kept within a member"
    assert sorted(int(m.payload) for m in plain.drain(quiet=0.5)) == list(range(N)), \
        "a plain subscription still gets every message"


def test_groups_are_independent(client, version, topic, cid):
    a = client(version, client_id=cid("a"))
    b = client(version, client_id=cid("b"))
    assert a.subscribe(f"$share/ga/{topic}", qos=1) == [1]
    assert b.subscribe(f"$share/gb/{topic}", qos=1) == [1]
    pub = client(version, client_id=cid("pub"))
    for i in range(10):
        pub.publish(topic, b"%d" % i, qos=1)
    assert len(a.collect(10, 5)) == 10 and len(b.collect(10, 5)) == 10


@pytest.mark.mosquitto_deviation("sends retained messages to a new shared subscription")
def test_v5_shared_subscription_gets_no_retained_messages(client, topic, cid):
    """Retained messages are not sent to a session when it subscribes to a shared
    subscription (MQTT 5 section 4.8.2)."""
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic, b"retained", qos=1, retain=True)
    m = client(V5, client_id=cid("m"))
    assert m.subscribe(f"$share/g/{topic}", qos=1) == [1]
    m.assert_nothing(1.0)
    pub.publish(topic, b"", qos=1, retain=True)


def test_v5_connack_advertises_shared_subscriptions(client, cid):
    from mqttkit import prop

    c = client(V5, client_id=cid("c"))
    assert prop(c.connack[2], "SharedSubscriptionAvailable", 1) == 1


@pytest.mark.mosquitto_deviation(
    "drops the in-flight messages of a shared-subscription member whose session ends; "
    "they are not sent to another member")
def test_unacked_messages_of_a_leaving_member_go_to_another(client, raw, topic, cid):
    import rawmqtt as r

    stay = client(V5, client_id=cid("stay"))
    assert stay.subscribe(f"$share/g/{topic}", qos=1) == [1]
    # The leaver is a raw connection: it receives and never acknowledges.
    leaver = raw(5)
    assert leaver.handshake(cid("leaver"), properties={"receive_maximum": 50}).reason == 0
    leaver.send(r.subscribe(1, [(f"$share/g/{topic}", 1)]))
    assert leaver.expect(r.SUBACK).reasons == [1]
    pub = client(V5, client_id=cid("pub"))
    for i in range(40):
        pub.publish(topic, b"%d" % i, qos=1)
    held = []
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        try:
            p = leaver.read(0.5)
        except TimeoutError:
            break
        if p.type == r.PUBLISH:
            held.append(int(p.payload))
    assert held, "the leaver received some messages (and acknowledged none)"
    leaver.abort()
    got = [int(m.payload) for m in stay.drain(quiet=2.0)]
    assert set(got) == set(range(40)), (
        f"the leaver's {len(held)} unacknowledged messages reached the other member: "
        f"missing {sorted(set(range(40)) - set(got))}")
