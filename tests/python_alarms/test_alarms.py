"""Resource alarms seen by real clients: tests/alarms.rs starts a broker whose memory
watermark is 1 byte, so the memory alarm is raised from the first measurement."""

import base64
import json
import os
import urllib.request

import pika
import pytest


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test --test alarms`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _get(path):
    host, port = _addr("TRIDENT_HTTP")
    req = urllib.request.Request(f"http://{host}:{port}{path}")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.read().decode()


def test_the_alarm_is_visible_in_metrics_and_the_api():
    overview = json.loads(_get("/api/overview"))
    assert overview["mem_alarm"] is True
    assert overview["disk_free_alarm"] is False
    assert overview["mem_limit"] == 1 and overview["mem_used"] > 1
    metrics = _get("/metrics")
    assert "trident_alarms_memory_used_watermark 1" in metrics
    assert "trident_alarms_free_disk_space_watermark 0" in metrics


def test_a_publisher_is_blocked_and_a_consumer_is_not():
    host, port = _addr("TRIDENT_AMQP")
    params = pika.ConnectionParameters(host=host, port=port,
                                       credentials=pika.PlainCredentials("guest", "guest"))
    blocked = []
    pub = pika.BlockingConnection(params)
    pub.add_on_connection_blocked_callback(
        lambda _c, frame: blocked.append(frame.method.reason))
    ch = pub.channel()
    q = "alarm-" + os.urandom(4).hex()
    ch.queue_declare(q)
    # The first publish makes this a publishing connection, which the alarm holds
    # back (RabbitMQ blocks a connection when it publishes during an alarm).
    ch.basic_publish("", q, b"m0")
    while not blocked:
        pub.process_data_events(time_limit=1)
    assert blocked == ["low on memory"]
    # A consumer on another connection still gets what was accepted before the block.
    con = pika.BlockingConnection(params)
    cch = con.channel()
    method, _props, body = None, None, None
    while method is None:
        method, _props, body = cch.basic_get(q, auto_ack=True)
        con.process_data_events(time_limit=0.2)
    assert body == b"m0"
    con.close()
    # pub is left open, not closed: like RabbitMQ, the broker does not read a blocked
    # publisher's socket, so connection.close would wait for the alarm to clear. The
    # socket goes with the pytest process.
