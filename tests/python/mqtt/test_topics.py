"""Topic names and filters: `+` and `#`, `$`-topics that leading wildcards do not
match, topics with `.` (distinct from `/`: RabbitMQ's plugin mixes them up), empty
levels, and the `$SYS/broker/...` statistics Mosquitto publishes."""

import re
import time

import pytest
from paho.mqtt.packettypes import PacketTypes

from mqttkit import V5, prop, props


def _received_topics(sub, quiet=0.8):
    return sorted(m.topic for m in sub.drain(quiet=quiet))


def test_wildcard_matching(client, version, topic, cid):
    filters = {
        "plus": topic + "/+/c",
        "hash": topic + "/a/#",
        "plus_hash": topic + "/+/#",
    }
    subs = {}
    for name, f in filters.items():
        subs[name] = client(version, client_id=cid(name))
        assert subs[name].subscribe(f, qos=1) == [1]
    pub = client(version, client_id=cid("pub"))
    names = ["a", "a/c", "b/c", "a/b/c", "a/", "c"]
    for n in names:
        pub.publish(f"{topic}/{n}", n.encode(), qos=1)
    t = topic + "/"
    assert _received_topics(subs["plus"]) == sorted([t + "a/c", t + "b/c"])
    # `a/#` also matches the parent level `a` [MQTT-4.7.1-2].
    assert _received_topics(subs["hash"]) == sorted([t + "a", t + "a/c", t + "a/b/c", t + "a/"])
    assert _received_topics(subs["plus_hash"]) == sorted(t + n for n in names)


def test_dots_are_ordinary_characters(client, version, topic, cid):
    """`a/b.c` and `a.b/c` are different topics; neither receives the other's messages,
    and a filter level must match `b.c` whole."""
    t1, t2 = f"{topic}/a/b.c", f"{topic}/a.b/c"
    s1 = client(version, client_id=cid("s1"))
    s2 = client(version, client_id=cid("s2"))
    s3 = client(version, client_id=cid("s3"))
    s4 = client(version, client_id=cid("s4"))
    s1.subscribe(t1, qos=1)
    s2.subscribe(t2, qos=1)
    s3.subscribe(f"{topic}/a/+", qos=1)
    s4.subscribe(f"{topic}/a/b/#", qos=1)
    pub = client(version, client_id=cid("pub"))
    pub.publish(t1, b"one", qos=1)
    pub.publish(t2, b"two", qos=1)
    pub.publish(f"{topic}/a/b/c", b"three", qos=1)
    assert [(m.topic, m.payload) for m in s1.drain()] == [(t1, b"one")]
    assert [(m.topic, m.payload) for m in s2.drain()] == [(t2, b"two")]
    assert _received_topics(s3) == [t1]
    assert _received_topics(s4) == [f"{topic}/a/b/c"]


def test_topic_names_are_exact(client, version, topic, cid):
    """Case, empty levels, a leading slash, spaces and non-ASCII are all significant."""
    names = [f"{topic}/Case", f"{topic}/case", f"{topic}//x", f"/{topic}/x", f"{topic}/x",
             f"{topic}/with space", f"{topic}/ümlaut/✓", f"{topic}/a*b", f"{topic}/a:b;c"]
    subs = []
    for i, n in enumerate(names):
        s = client(version, client_id=cid(f"s{i}"))
        assert s.subscribe(n, qos=1) == [1]
        subs.append(s)
    pub = client(version, client_id=cid("pub"))
    for n in names:
        pub.publish(n, n.encode(), qos=1)
    for n, s in zip(names, subs):
        assert [(m.topic, m.payload) for m in s.drain(quiet=0.5)] == [(n, n.encode())], n


def test_dollar_topics_not_matched_by_leading_wildcards(client, topic, cid):
    """`#` and `+/...` do not match topics starting with `$` [MQTT-4.7.2-1];
    filters that start with `$` do."""
    dollar = "$" + topic.replace("/", "_")
    catch_all = client(V5, client_id=cid("all"))
    catch_all.subscribe("#", qos=1)
    catch_all.subscribe("+/y", qos=1)
    catch_all.subscribe("+/+", qos=1)
    exact = client(V5, client_id=cid("exact"))
    exact.subscribe(dollar + "/#", qos=1)
    exact.subscribe(dollar + "/+", qos=1)
    pub = client(V5, client_id=cid("pub"))
    pub.publish(dollar + "/y", b"dollar", qos=1)
    leaked = [m.topic for m in catch_all.drain(quiet=1.0) if m.topic.startswith("$")]
    assert leaked == [], f"leading wildcards matched $-topics: {leaked}"
    got = exact.drain(quiet=0.5)
    assert got and {m.topic for m in got} == {dollar + "/y"}


def test_sys_topics_not_matched_by_hash(client, cid):
    """A `#` subscriber gets no `$SYS` message, while a `$SYS/#` one on the same
    connection does (told apart by subscription identifiers)."""
    c = client(V5, client_id=cid("sys"))
    c.subscribe("#", qos=0, properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=1))
    c.subscribe("+/broker/#", qos=0,
                properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=2))
    c.subscribe("$SYS/broker/#", qos=0,
                properties=props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=3))
    deadline = time.monotonic() + 12
    sys_seen, leaked = 0, []
    while time.monotonic() < deadline:
        for m in c.drain(quiet=0.5):
            if m.topic.startswith("$SYS/"):
                ids = prop(m, "SubscriptionIdentifier", [])
                sys_seen += 1
                if 1 in ids or 2 in ids:
                    leaked.append(m.topic)
        if sys_seen >= 5:
            break
    assert sys_seen, "$SYS/broker/# delivers statistics"
    assert not leaked, f"# or +/broker/# matched $SYS topics: {leaked[:5]}"


SYS_NUMERIC = [
    "$SYS/broker/clients/connected",
    "$SYS/broker/messages/received",
    "$SYS/broker/messages/sent",
    "$SYS/broker/bytes/received",
    "$SYS/broker/bytes/sent",
]


def test_sys_broker_statistics(client, topic, cid):
    """The statistics Mosquitto publishes under $SYS/broker (every sys_interval, 10 s by
    default, retained): counters as decimal integers, uptime as "<n> seconds", a
    version string; and they reflect this connection's traffic."""
    c = client(V5, client_id=cid("stats"))
    for i in range(5):
        c.publish(topic, b"%d" % i, qos=1)
    c.subscribe("$SYS/broker/#", qos=0)
    wanted = set(SYS_NUMERIC) | {"$SYS/broker/uptime", "$SYS/broker/version"}
    seen = {}
    connected_now = False
    deadline = time.monotonic() + 25
    while time.monotonic() < deadline and not (wanted <= set(seen) and connected_now):
        for m in c.drain(quiet=0.3):
            seen[m.topic] = m.payload.decode("utf-8", "replace")
            if m.topic == "$SYS/broker/clients/connected" and not m.retain:
                connected_now = int(m.payload) >= 1
    missing = wanted - set(seen)
    assert not missing, f"missing $SYS topics: {sorted(missing)}"
    for t in SYS_NUMERIC:
        assert re.fullmatch(r"\d+", seen[t]), f"{t} = {seen[t]!r}"
    assert int(seen["$SYS/broker/messages/received"]) >= 5
    assert int(seen["$SYS/broker/bytes/received"]) > 0
    assert re.fullmatch(r"\d+ seconds", seen["$SYS/broker/uptime"]), seen["$SYS/broker/uptime"]
    assert seen["$SYS/broker/version"].strip(), "a non-empty version"
    assert connected_now, "a fresh clients/connected counts this connection"


@pytest.mark.parametrize("name", ["$SYS/broker/uptime", "$SYS/forged"])
def test_clients_cannot_forge_sys(client, cid, name):
    """A client's PUBLISH to $SYS is not delivered as broker statistics."""
    watcher = client(V5, client_id=cid("watch"))
    watcher.subscribe(name, qos=0, options=None)
    watcher.drain(quiet=0.5)
    forger = client(V5, client_id=cid("forge"))
    forger.publish(name, b"forged", qos=1)
    assert all(m.payload != b"forged" for m in watcher.drain(quiet=1.0))


def test_unsubscribe_stops_exactly_that_filter(client, version, topic, cid):
    """[MQTT-3.10.4-1], [MQTT-3.10.4-2]: UNSUBSCRIBE removes the subscription whose filter
    is the same string (not every filter that matches), later messages on it stop; the
    other subscription of the session keeps receiving. In 5.0 UNSUBACK says 0x11 for a
    filter that was not subscribed ([MQTT-3.11.3-1])."""
    sub = client(version, client_id=cid("sub"))
    sub.subscribe(topic + "/a", qos=1)
    sub.subscribe(topic + "/+", qos=1)
    reasons = sub.unsubscribe(topic + "/a")
    pub = client(version, client_id=cid("pub"))
    pub.publish(topic + "/a", b"via the wildcard", qos=1)
    got = sub.drain(quiet=0.8)
    assert [m.payload for m in got] == [b"via the wildcard"], "once, via topic/+"
    sub.unsubscribe(topic + "/+")
    pub.publish(topic + "/a", b"nobody", qos=1)
    sub.assert_nothing(0.8)
    if version == V5:
        assert list(reasons) == [0], f"UNSUBACK {reasons}"
        assert list(sub.unsubscribe(topic + "/never")) == [0x11]
