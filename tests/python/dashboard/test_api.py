"""The API the dashboard stands on, called directly: the rates the sampler keeps
(RabbitMQ's *_details with samples), publishing and getting test messages, and bad input
to both (a 4xx with a JSON reason, never a 5xx). No browser needed."""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

import pika
import pytest

AUTH = "Basic " + base64.b64encode(b"guest:guest").decode()


@pytest.fixture
def http(http_base):
    def call(method, path, body=None, headers=None):
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(http_base + path, data=data, method=method)
        req.add_header("Authorization", AUTH)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=15) as r:
                raw = r.read()
                return r.status, (json.loads(raw) if raw else None), dict(r.headers)
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, (json.loads(raw) if raw else None), dict(e.headers)

    return call


def q(name):
    return urllib.parse.quote(name, safe="")


def test_publish_then_get_round_trips_body_and_properties(http, amqp_addr, unique):
    status, _, _ = http("PUT", "/api/queues/%2F/" + q(unique), {"durable": True})
    assert status == 201
    status, body, _ = http(
        "POST",
        "/api/exchanges/%2F/amq.default/publish",
        {
            "routing_key": unique,
            "payload": base64.b64encode(b"\x00\xffbinary").decode(),
            "payload_encoding": "base64",
            "properties": {"delivery_mode": 2, "content_type": "application/octet-stream", "headers": {"n": 7}},
        },
    )
    assert (status, body) == (200, {"routed": True})
    status, body, _ = http("POST", "/api/exchanges/%2F/amq.default/publish", {"routing_key": unique, "payload": "text"})
    assert body == {"routed": True}
    status, body, _ = http("POST", "/api/exchanges/%2F/amq.default/publish", {"routing_key": unique + "-nowhere", "payload": "x"})
    assert (status, body) == (200, {"routed": False})

    status, got, _ = http("POST", "/api/queues/%2F/" + q(unique) + "/get", {"count": 5, "ackmode": "ack_requeue_true"})
    assert status == 200
    assert len(got) == 2
    assert got[0]["payload_encoding"] == "base64"
    assert base64.b64decode(got[0]["payload"]) == b"\x00\xffbinary"
    assert got[0]["properties"]["content_type"] == "application/octet-stream"
    assert got[0]["properties"]["headers"] == {"n": 7}
    assert got[0]["properties"]["delivery_mode"] == 2
    assert got[0]["message_count"] == 1
    assert got[1]["payload"] == "text" and got[1]["payload_encoding"] == "string"
    assert not got[0]["redelivered"]

    # Requeued: still there, now redelivered; pika sees the same two.
    status, again, _ = http("POST", "/api/queues/%2F/" + q(unique) + "/get", {"count": 1, "ackmode": "ack_requeue_false"})
    assert again[0]["redelivered"] is True
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=amqp_addr[0], port=amqp_addr[1]))
    try:
        ch = conn.channel()
        method, props, body = ch.basic_get(unique, auto_ack=True)
        assert body == b"text"
        assert method.redelivered
        assert ch.basic_get(unique, auto_ack=True)[0] is None
    finally:
        conn.close()


def test_truncate_and_empty_queue(http, unique):
    http("PUT", "/api/queues/%2F/" + q(unique), {})
    http("POST", "/api/exchanges/%2F/amq.default/publish", {"routing_key": unique, "payload": "0123456789"})
    status, got, _ = http("POST", "/api/queues/%2F/" + q(unique) + "/get", {"count": 1, "ackmode": "ack_requeue_false", "truncate": 4})
    assert got[0]["payload"] == "0123" and got[0]["payload_bytes"] == 10
    status, got, _ = http("POST", "/api/queues/%2F/" + q(unique) + "/get", {"count": 3})
    assert (status, got) == (200, [])


@pytest.mark.parametrize(
    "path,body,code",
    [
        ("/api/queues/%2F/{q}/get", {"count": 0}, 400),
        ("/api/queues/%2F/{q}/get", {"count": 1000000}, 400),
        ("/api/queues/%2F/{q}/get", {"ackmode": "sometimes"}, 400),
        ("/api/queues/%2F/{q}/get", {"encoding": "rot13"}, 400),
        ("/api/queues/%2F/{q}/get", {"surprise": 1}, 400),
        ("/api/queues/%2F/{q}/get", b"{not json", 400),
        ("/api/queues/%2F/{q}-missing/get", {}, 404),
        ("/api/queues/no-such-vhost/{q}/get", {}, 404),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "x", "payload_encoding": "hex"}, 400),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "!!", "payload_encoding": "base64"}, 400),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "x", "properties": {"delivery_mode": 9}}, 400),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "x", "properties": {"colour": "red"}}, 400),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "x", "properties": {"expiration": "soon"}}, 400),
        ("/api/exchanges/%2F/amq.default/publish", {"payload": "x", "properties": []}, 400),
        ("/api/exchanges/%2F/no-such-exchange/publish", {"payload": "x"}, 404),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(http, unique, path, body, code):
    http("PUT", "/api/queues/%2F/" + q(unique), {})
    status, err, _ = http("POST", path.replace("{q}", q(unique)), body)
    assert status == code, err
    assert err["reason"]


def test_monitoring_users_may_not_publish_or_get(http, http_base, unique):
    user = unique + "-mon"
    assert http("PUT", "/api/users/" + user, {"password": "long-enough-pw-1", "tags": "monitoring"})[0] == 201
    http("PUT", "/api/queues/%2F/" + q(unique), {})
    mon = "Basic " + base64.b64encode((user + ":long-enough-pw-1").encode()).decode()
    for path in ("/api/exchanges/%2F/amq.default/publish", "/api/queues/%2F/" + q(unique) + "/get"):
        req = urllib.request.Request(http_base + path, data=b'{"payload": "x"}' if "publish" in path else b"{}", method="POST")
        req.add_header("Authorization", mon)
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 403
    http("DELETE", "/api/users/" + user)


def test_rates_have_rabbitmq_details_and_samples_on_request(http, unique):
    http("PUT", "/api/queues/%2F/" + q(unique), {})
    status, o, _ = http("GET", "/api/overview")
    assert status == 200
    for k in ("publish", "deliver_get", "ack", "records_appended", "records_fetched"):
        assert isinstance(o["message_stats"][k + "_details"]["rate"], (int, float))
        assert "samples" not in o["message_stats"][k + "_details"]
    assert "rate" in o["queue_totals"]["messages_ready_details"]

    status, o, _ = http("GET", "/api/overview?msg_rates_age=600&msg_rates_incr=5&lengths_age=600&lengths_incr=5")
    d = o["message_stats"]["publish_details"]
    assert {"rate", "samples", "avg_rate", "avg"} <= set(d)
    # The sampler reads the engine when the broker starts: there is at least one sample.
    assert d["samples"] and {"sample", "timestamp"} <= set(d["samples"][0])
    stamps = [s["timestamp"] for s in d["samples"]]
    assert stamps == sorted(stamps, reverse=True)

    status, queue, _ = http("GET", "/api/queues/%2F/" + q(unique) + "?msg_rates_age=60")
    ms = queue["message_stats"]
    assert {"publish", "deliver_get", "ack", "publish_details"} <= set(ms)
    assert "samples" in ms["publish_details"]
    assert "rate" in queue["messages_details"]
    status, listed, _ = http("GET", "/api/queues/%2F")
    mine = [x for x in listed if x["name"] == unique][0]
    assert "rate" in mine["message_stats"]["publish_details"]


def test_per_queue_counters_count_publish_deliver_and_ack(http, amqp_addr, unique):
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=amqp_addr[0], port=amqp_addr[1]))
    try:
        ch = conn.channel()
        ch.queue_declare(unique)
        ch.confirm_delivery()
        for i in range(5):
            ch.basic_publish("", unique, b"m%d" % i)
        for _ in range(3):
            method, _, _ = ch.basic_get(unique)
            ch.basic_ack(method.delivery_tag)
        ch.basic_get(unique, auto_ack=True)
        ch.queue_declare(unique, passive=True)  # a round trip: the acks are applied
    finally:
        conn.close()
    status, queue, _ = http("GET", "/api/queues/%2F/" + q(unique))
    ms = queue["message_stats"]
    assert (ms["publish"], ms["deliver_get"], ms["ack"]) == (5, 4, 3)
    assert queue["messages"] == 1


def test_refused_login_prompts_except_for_the_dashboard(http_base):
    req = urllib.request.Request(http_base + "/api/overview")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:wrong").decode())
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and "Basic" in e.value.headers.get("WWW-Authenticate", "")
    req.add_header("X-Trident-Dashboard", "1")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 401 and e.value.headers.get("WWW-Authenticate") is None


def test_assets_are_served_from_the_binary_with_a_strict_policy(http_base):
    for path, kind in (("/", "text/html"), ("/dashboard/app.js", "text/javascript"), ("/dashboard/chart.js", "text/javascript"), ("/dashboard/style.css", "text/css")):
        with urllib.request.urlopen(http_base + path, timeout=10) as r:
            assert r.status == 200
            assert r.headers["Content-Type"].startswith(kind)
            csp = r.headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "unsafe" not in csp
            assert r.read()
