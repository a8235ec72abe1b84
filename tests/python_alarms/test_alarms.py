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


def test_an_mqtt_publisher_is_held_back_and_a_subscriber_is_not():
    import threading

    import paho.mqtt.client as mqtt

    host, port = _addr("TRIDENT_MQTT")
    topic = "alarm/" + os.urandom(4).hex()
    got, subscribed = [], threading.Event()
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alarm-sub")
    sub.on_subscribe = lambda *_a: subscribed.set()
    sub.on_message = lambda _c, _u, m: got.append(m.payload)
    sub.connect(host, port)
    sub.loop_start()
    sub.subscribe(topic, qos=1)
    assert subscribed.wait(10)
    pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="alarm-pub")
    pub.connect(host, port)
    pub.loop_start()
    # The first PUBLISH is read and routed, and makes this a publishing connection,
    # which the alarm then holds back: its second publish is not read, so it is
    # neither routed nor acknowledged while the alarm lasts (as RabbitMQ's MQTT
    # plugin blocks publishers).
    first = pub.publish(topic, b"m0", qos=1)
    first.wait_for_publish(10)
    assert first.is_published()
    second = pub.publish(topic, b"m1", qos=1)
    for _ in range(30):
        if got:
            break
        threading.Event().wait(0.1)
    assert got == [b"m0"], "the subscriber keeps getting what was accepted"
    threading.Event().wait(1.0)
    assert not second.is_published(), "a held-back publish must not be acknowledged"
    assert got == [b"m0"]
    sub.loop_stop()
    sub.disconnect()
    # pub is left running (paho's network thread is a daemon): the broker does not
    # read a held-back publisher, so stopping its loop would wait on its keep alive.
