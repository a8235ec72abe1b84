"""Retained messages: set, replace, clear with an empty payload, delivered on subscribe
with the retain flag; live deliveries without it (3.1.1) or as published (5.0
retain-as-published); MQTT 5 retain handling 0/1/2."""

import pytest
from paho.mqtt.subscribeoptions import SubscribeOptions

from mqttkit import V5


def test_set_replace_clear(client, version, topic, cid):
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic, b"first", qos=1, retain=True)
    pub.publish(topic, b"second", qos=1, retain=True)

    s1 = client(version, client_id=cid("s1"))
    s1.subscribe(topic, qos=1)
    msg = s1.recv(5)
    assert msg.payload == b"second", "the last retained message replaces the earlier one"
    assert msg.retain, "delivered because of the subscription: retain flag set"
    s1.assert_nothing()

    pub.publish(topic, b"", qos=1, retain=True)
    live = s1.recv(5)
    assert live.payload == b"", "the clearing publish itself is forwarded"
    s2 = client(version, client_id=cid("s2"))
    s2.subscribe(topic, qos=1)
    s2.assert_nothing(1.0)


def test_wildcard_subscription_gets_every_matching_retained(client, version, topic, cid):
    pub = client(version, client_id=cid("pub"))
    for leaf in ("a", "b", "c/d"):
        pub.publish(f"{topic}/{leaf}", leaf.encode(), qos=1, retain=True)
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic + "/#", qos=1)
    got = sub.collect(3, 5)
    assert sorted(m.payload for m in got) == [b"a", b"b", b"c/d"]
    assert all(m.retain for m in got)
    sub2 = client(version, client_id=cid("sub2"))
    sub2.subscribe(topic + "/+", qos=1)
    assert sorted(m.payload for m in sub2.collect(2, 5)) == [b"a", b"b"]
    sub2.assert_nothing()
    for leaf in ("a", "b", "c/d"):
        pub.publish(f"{topic}/{leaf}", b"", qos=1, retain=True)


def test_retained_delivered_at_min_qos(client, version, topic, cid):
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic, b"r", qos=2, retain=True)
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    msg = sub.recv(5)
    assert msg.retain and msg.qos == 1
    pub.publish(topic, b"", qos=1, retain=True)


def test_live_delivery_clears_the_retain_flag(client, version, topic, cid):
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic, qos=1)
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic, b"live", qos=1, retain=True)
    msg = sub.recv(5)
    assert msg.payload == b"live"
    assert not msg.retain, "a message to an existing subscription has retain 0 [MQTT-3.3.1-9]"
    pub.publish(topic, b"", qos=1, retain=True)


def test_v5_retain_as_published(client, topic, cid):
    sub = client(V5, client_id=cid("sub"))
    sub.subscribe(topic + "/rap", options=SubscribeOptions(qos=1, retainAsPublished=True))
    sub.subscribe(topic + "/norap", options=SubscribeOptions(qos=1, retainAsPublished=False))
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic + "/rap", b"x", qos=1, retain=True)
    pub.publish(topic + "/norap", b"y", qos=1, retain=True)
    got = {m.topic: m for m in sub.collect(2, 5)}
    assert got[topic + "/rap"].retain, "retain-as-published keeps the flag"
    assert not got[topic + "/norap"].retain
    pub.publish(topic + "/plain", b"z", qos=1, retain=False)
    pub.publish(topic + "/rap", b"", qos=1, retain=True)
    pub.publish(topic + "/norap", b"", qos=1, retain=True)


@pytest.mark.parametrize("handling", [0, 1, 2])
def test_v5_retain_handling(client, topic, cid, handling):
    pub = client(V5, client_id=cid("pub"))
    pub.publish(topic, b"kept", qos=1, retain=True)
    sub = client(V5, client_id=cid("sub"))
    opts = SubscribeOptions(qos=1, retainHandling=handling)
    assert sub.subscribe(topic, options=opts) == [1]
    if handling == 2:
        sub.assert_nothing(1.0)
    else:
        assert sub.recv(5).payload == b"kept"
        sub.assert_nothing()
    # The same subscription again: handling 0 sends the retained message again, 1 only
    # for a subscription that did not exist, 2 never [MQTT-3.3.1-9..11].
    assert sub.subscribe(topic, options=opts) == [1]
    if handling == 0:
        msg = sub.recv(5)
        assert msg.payload == b"kept" and msg.retain
    else:
        sub.assert_nothing(1.0)
    pub.publish(topic, b"", qos=1, retain=True)
