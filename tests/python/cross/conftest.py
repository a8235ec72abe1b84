"""Fixtures of the cross-protocol suite: one broker (tests/python.rs) seen through pika,
paho-mqtt (v5, through the MQTT suite's `mqttkit`) and confluent-kafka."""

import os
import sys
import uuid

import pika
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "mqtt"))

import mqttkit  # noqa: E402


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test -p trident --test python`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def mqtt_addr():
    return _addr("TRIDENT_MQTT")


@pytest.fixture
def ch():
    host, port = _addr("TRIDENT_AMQP")
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port))
    channel = conn.channel()
    yield channel
    if conn.is_open:
        conn.close()


@pytest.fixture
def mqtt(mqtt_addr):
    """Factory of MQTT 5 clients, closed at teardown."""
    made = []

    def make(name):
        c = mqttkit.Client(mqtt_addr, mqttkit.V5, client_id=f"{name}-{uuid.uuid4().hex[:8]}")
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


@pytest.fixture
def u():
    """A word no other test uses (a topic level, a routing-key word, a name part)."""
    return uuid.uuid4().hex[:10]
