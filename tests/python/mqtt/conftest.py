"""Fixtures of the MQTT suites. The broker under test is TRIDENT_MQTT (host:port): the
`trident` process tests/python.rs starts, or any other broker, e.g. Mosquitto:

    TRIDENT_MQTT=127.0.0.1:31883 TRIDENT_MQTT_PEER=mosquitto \
        python -m pytest tests/python/mqtt

TRIDENT_MQTT_PEER=mosquitto turns the tests
marked `mosquitto_deviation` (behaviour Trident must have and Mosquitto 2.0 lacks) into
expected failures."""

import os
import uuid

import pytest

import mqttkit
import rawmqtt


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "mosquitto_deviation(reason): Mosquitto 2.0 is known not to do this; expected to "
        "fail when TRIDENT_MQTT_PEER=mosquitto, must pass on Trident",
    )


@pytest.fixture(autouse=True)
def _mosquitto_deviations(request):
    marker = request.node.get_closest_marker("mosquitto_deviation")
    if marker and os.environ.get("TRIDENT_MQTT_PEER") == "mosquitto":
        reason = marker.args[0] if marker.args else "Mosquitto deviation"
        request.applymarker(pytest.mark.xfail(reason=f"Mosquitto: {reason}", strict=False))


@pytest.fixture
def addr():
    value = os.environ.get("TRIDENT_MQTT")
    if not value:
        pytest.skip("TRIDENT_MQTT is not set")
    host, port = value.rsplit(":", 1)
    return host, int(port)


@pytest.fixture(params=[mqttkit.V311, mqttkit.V5], ids=["v311", "v5"])
def version(request):
    return request.param


@pytest.fixture
def topic():
    """A topic prefix no other test uses."""
    return "t/" + uuid.uuid4().hex[:12]


@pytest.fixture
def cid():
    """Client ids no other test uses: cid("sub") -> "sub-<hex>"."""
    tag = uuid.uuid4().hex[:10]
    return lambda name="c": f"{name}-{tag}"


@pytest.fixture
def client(addr):
    """Factory of paho clients that are disconnected at teardown."""
    made = []

    def make(version, **kw):
        c = mqttkit.Client(addr, version, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def raw(addr):
    """Factory of raw-socket connections, closed at teardown."""
    made = []

    def make(version=5, timeout=5.0):
        r = rawmqtt.Raw(addr, version=version, timeout=timeout)
        made.append(r)
        return r

    yield make
    for r in made:
        try:
            r.sock.close()
        except OSError:
            pass


@pytest.fixture
def bystander(addr, topic):
    """A v5 connection subscribed before the test's bad input; at teardown it must still
    work: a QoS 1 round trip through the same broker (the broker is up and this client
    was not affected)."""
    c = mqttkit.Client(addr, mqttkit.V5, client_id="bystander-" + uuid.uuid4().hex[:8])
    t = topic + "/bystander"
    assert c.subscribe(t, qos=1) == [1]
    yield c
    assert not c.disconnected.is_set(), "the bystander connection was closed"
    c.publish(t, b"still here", qos=1)
    msg = c.recv(5)
    assert msg.payload == b"still here"
    c.close()
    fresh = mqttkit.Client(addr, mqttkit.V5, client_id="after-" + uuid.uuid4().hex[:8])
    assert fresh.reason == 0, "a new connection after the bad input is accepted"
    fresh.close()
