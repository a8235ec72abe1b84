"""A memory alarm raised by a backlog clears when consumers drain it: tests/alarms.rs
starts a broker whose memory watermark is ~120 MB (its idle RSS is ~25-40 MiB), a
publisher with confirms sends 20 MiB messages into a queue nobody reads until the alarm
blocks it (connection.blocked), a consumer then drains the queue, the broker gives the
memory back, the alarm clears (connection.unblocked) and the publisher finishes. Every
confirmed message is delivered once, in order."""

import base64
import json
import os
import threading
import time
import urllib.request

import pika
import pytest

SIZE = 20 * 1024 * 1024
COUNT = 14  # 280 MiB in all: more than twice the watermark


def _addr(var):
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set; run through `cargo test --test alarms`")
    host, port = value.rsplit(":", 1)
    return host, int(port)


def _overview():
    host, port = _addr("TRIDENT_HTTP")
    req = urllib.request.Request(f"http://{host}:{port}/api/overview")
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def _wait(what, cond, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}; overview: {_overview()}")


def _settled(confirmed, quiet=2.0, timeout=60):
    """The number of confirms once none has arrived for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    seen, since = len(confirmed), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if len(confirmed) != seen:
            seen, since = len(confirmed), time.monotonic()
        elif time.monotonic() - since >= quiet:
            return seen
    raise AssertionError(f"confirms never stopped: {len(confirmed)} of {COUNT}")


# The backlog alone is above tests/alarms.rs's 120 MB watermark from this many messages
# on: from there the alarm cannot clear until the queue is drained. Below it, the alarm
# can come from buffers of messages in flight, and clear by itself when the broker gives
# them back (which is right): the publisher then goes on.
HELD_FOR_SURE = 6


def _held(confirmed):
    """The number of confirms at which the alarm holds the publisher."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        n = _settled(confirmed)
        if n >= HELD_FOR_SURE:
            time.sleep(2)
            assert len(confirmed) == n, "a blocked publisher's messages were confirmed"
            return n
        time.sleep(3)
        if len(confirmed) == n and _overview()["mem_alarm"]:
            return n  # no confirm for 5 s, and the alarm still up
    raise AssertionError(f"the publisher was never held: {len(confirmed)} of {COUNT}")


def test_publishers_are_released_when_consumers_drain():
    host, port = _addr("TRIDENT_AMQP")
    assert _overview()["mem_alarm"] is False, "the broker starts below its watermark"
    events = []
    confirmed = []
    failure = []

    def publish():
        try:
            conn = pika.BlockingConnection(
                pika.ConnectionParameters(host=host, port=port, blocked_connection_timeout=None)
            )
            conn.add_on_connection_blocked_callback(lambda *_: events.append("blocked"))
            conn.add_on_connection_unblocked_callback(lambda *_: events.append("unblocked"))
            ch = conn.channel()
            ch.queue_declare("backlog")
            ch.confirm_delivery()
            for i in range(COUNT):
                body = i.to_bytes(4, "big") + b"x" * (SIZE - 4)
                ch.basic_publish("", "backlog", body)  # returns once confirmed
                confirmed.append(i)
            # pika's BlockingConnection runs connection callbacks only from here, not
            # while basic_publish waits for its confirm.
            conn.process_data_events(time_limit=0)
            conn.close()
        except Exception as e:  # reported by the main thread
            failure.append(e)

    publisher = threading.Thread(target=publish, daemon=True)
    publisher.start()
    _wait("the memory alarm", lambda: _overview()["mem_alarm"] or failure)
    assert not failure, failure
    # A message the broker had already begun to read when the alarm went up is still
    # stored and confirmed (RabbitMQ blocks the socket, not the frame it is in), and a
    # 20 MiB body can take a while to land on a slow machine. So the publisher counts
    # as held once its confirms stop for a while, short of the end.
    stuck_at = _held(confirmed)
    assert stuck_at < COUNT, "the publisher was not held back"

    conn = pika.BlockingConnection(pika.ConnectionParameters(host=host, port=port))
    ch = conn.channel()
    ch.basic_qos(prefetch_count=1)
    got = []
    deadline = time.monotonic() + 120
    while len(got) < COUNT and time.monotonic() < deadline:
        method, _, body = ch.basic_get("backlog")
        if method is None:
            time.sleep(0.05)
            continue
        assert len(body) == SIZE
        got.append(int.from_bytes(body[:4], "big"))
        ch.basic_ack(method.delivery_tag)
    conn.close()
    publisher.join(timeout=60)
    assert not failure, failure
    assert confirmed == list(range(COUNT))
    assert got == list(range(COUNT)), "every confirmed message delivered once, in order"
    assert events[:2] == ["blocked", "unblocked"], events
    _wait("the alarm to clear", lambda: not _overview()["mem_alarm"])
