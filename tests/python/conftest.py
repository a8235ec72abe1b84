"""Shared fixtures: the broker under test is started by tests/python.rs and its
addresses arrive in TRIDENT_AMQP / TRIDENT_KAFKA / TRIDENT_HTTP as host:port."""

import os
import uuid

import pytest


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test --workspace`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


@pytest.fixture
def amqp_addr():
    return _addr("TRIDENT_AMQP")


@pytest.fixture
def kafka_addr():
    return "%s:%d" % _addr("TRIDENT_KAFKA")


@pytest.fixture
def unique():
    """A name no other test uses."""
    return "t-" + uuid.uuid4().hex[:12]
