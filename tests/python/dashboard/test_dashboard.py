"""The web dashboard in headless Chromium against the broker under test: log in, see a
queue created over AMQP (pika) with its depth, publish and get a test message, purge it
through the confirmation dialog, see a topic with its partitions and a consumer group's
lag created over Kafka (confluent-kafka), close a connection, list users.

With TRIDENT_DASHBOARD_SCREENSHOTS=DIR set, the pages are also saved as PNG files there
(that is how docs/dashboard.md's screenshots are made)."""

import os
import re

import pika
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from playwright.sync_api import expect

USER, PASS = "guest", "guest"  # the default administrator, loopback only
SHOTS = os.environ.get("TRIDENT_DASHBOARD_SCREENSHOTS")


def shot(page, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SHOTS, name + ".png"), full_page=True)


def log_in(page, http_base):
    page.goto(http_base + "/")
    page.fill("#username", USER)
    page.fill("#password", PASS)
    page.click("#login-button")
    expect(page.locator("#whoami")).to_contain_text(USER)


def amqp_queue_with(amqp_addr, name, bodies):
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=amqp_addr[0], port=amqp_addr[1]))
    ch = conn.channel()
    ch.queue_declare(name, durable=True)
    ch.confirm_delivery()
    for b in bodies:
        ch.basic_publish("", name, b, pika.BasicProperties(delivery_mode=2))
    return conn


def test_a_wrong_password_is_refused_on_the_page(page, http_base):
    page.goto(http_base + "/")
    page.fill("#username", USER)
    page.fill("#password", "not-the-password")
    page.click("#login-button")
    expect(page.locator("#login-error")).to_contain_text("Login failed")
    expect(page.locator("#app")).to_be_hidden()


def test_overview_shows_totals_and_rate_charts(page, http_base, amqp_addr, unique):
    conn = amqp_queue_with(amqp_addr, unique, [b"one", b"two"])
    try:
        log_in(page, http_base)
        expect(page.locator("#chart-rates")).to_be_visible()
        expect(page.locator("#chart-depth")).to_be_visible()
        expect(page.locator(".total", has_text="Queues")).to_be_visible()
        # The chart is drawn from the broker's samples (one every 5 s): wait for two of
        # each of its two series. (A locator, not wait_for_function: the page's CSP
        # refuses the eval that needs.)
        expect(page.locator("#chart-depth")).to_have_attribute(
            "data-points", re.compile(r"^([4-9]|\d\d+)$"), timeout=30000
        )
        expect(page.locator("#chart-rates")).to_have_attribute(
            "data-points", re.compile(r"^[1-9]\d*$"), timeout=30000
        )
        shot(page, "overview")
    finally:
        conn.close()


def test_overview_shows_resources_against_their_watermarks(page, http_base):
    log_in(page, http_base)
    memory = page.locator('#resources tr[data-resource="Memory used"]')
    disk = page.locator('#resources tr[data-resource="Disk free"]')
    # The broker under test runs with default watermarks: nothing is raised, and the
    # figures are the ones /api/overview reports (non-zero, in bytes units).
    expect(memory).to_contain_text(re.compile(r"\d(\.\d)? (KiB|MiB|GiB)"))
    expect(memory.locator("td").nth(3)).to_have_text("ok")
    expect(disk.locator("td").nth(3)).to_have_text("ok")
    expect(disk).to_contain_text("at least")
    expect(page.locator("#alarms")).to_be_hidden()


def test_queue_from_amqp_publish_get_and_purge_with_confirmation(page, http_base, amqp_addr, unique):
    conn = amqp_queue_with(amqp_addr, unique, [b"first", b"second", b"third"])
    try:
        log_in(page, http_base)
        page.click("#nav a[data-view=queues]")
        row = page.locator("tr[data-queue='%s']" % unique)
        expect(row).to_be_visible()
        expect(row.locator("td.ready")).to_have_text("3")
        shot(page, "queues")

        row.locator("a").click()
        expect(page.locator("#queue-name")).to_have_text(unique)
        expect(page.locator("#queue-ready")).to_have_text("3")

        # A test message through the default exchange.
        page.fill("#publish-payload", "from the dashboard")
        page.select_option("#publish-mode", "2")
        page.click("#publish-button")
        expect(page.locator("#flash")).to_have_text("Message published.")
        expect(page.locator("#queue-ready")).to_have_text("4")

        # Get (and requeue) two: they come back in order, and stay in the queue.
        page.fill("#get-count", "2")
        page.select_option("#get-ackmode", "ack_requeue_true")
        page.click("#get-button")
        messages = page.locator("#got-messages tr.message")
        expect(messages).to_have_count(2)
        expect(messages.nth(0).locator("pre")).to_have_text("first")
        expect(messages.nth(1).locator("pre")).to_have_text("second")
        expect(page.locator("#queue-ready")).to_have_text("4")
        shot(page, "queue")

        # Purge asks first; Cancel leaves everything in place.
        page.click("#purge-button")
        dialog = page.locator("#confirm")
        expect(dialog).to_be_visible()
        expect(page.locator("#confirm-text")).to_contain_text(unique)
        expect(page.locator("#confirm-text")).to_contain_text("4 ready message")
        shot(page, "purge-confirmation")
        page.click("#confirm-cancel")
        expect(dialog).to_be_hidden()
        expect(page.locator("#queue-ready")).to_have_text("4")

        page.click("#purge-button")
        page.click("#confirm-ok")
        expect(page.locator("#flash")).to_contain_text("purged")
        expect(page.locator("#queue-ready")).to_have_text("0")

        # The AMQP side agrees: nothing left.
        ch = conn.channel()
        assert ch.queue_declare(unique, passive=True).method.message_count == 0
        method, _, _ = ch.basic_get(unique, auto_ack=True)
        assert method is None
    finally:
        conn.close()


def test_topic_partitions_and_consumer_group_lag_from_kafka(page, http_base, kafka_addr, unique):
    admin = AdminClient({"bootstrap.servers": kafka_addr})
    for f in admin.create_topics([NewTopic(unique, num_partitions=2, replication_factor=1)]).values():
        f.result(timeout=15)
    p = Producer({"bootstrap.servers": kafka_addr, "linger.ms": 5})
    for i in range(10):
        p.produce(unique, value=b"v%d" % i, partition=0)
    for i in range(3):
        p.produce(unique, value=b"w%d" % i, partition=1)
    assert p.flush(20) == 0
    group = unique + "-group"
    c = Consumer(
        {
            "bootstrap.servers": kafka_addr,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    # Read 4 of partition 0's 10 records and 3 of partition 1's 3: lag 6 and 0.
    c.commit(offsets=[TopicPartition(unique, 0, 4), TopicPartition(unique, 1, 3)], asynchronous=False)
    c.close()

    log_in(page, http_base)
    page.click("#nav a[data-view=topics]")
    row = page.locator("tr[data-topic='%s']" % unique)
    expect(row).to_be_visible()
    expect(row.locator("td").nth(1)).to_have_text("2")
    expect(row.locator("td").nth(2)).to_have_text("13")
    expect(row).to_contain_text("%s (6)" % group)
    shot(page, "topics")

    row.locator("a").click()
    expect(page.locator("#topic-name")).to_have_text(unique)
    p0 = page.locator("tr[data-partition='0']").first
    expect(p0.locator("td").nth(2)).to_have_text("10")
    lag0 = page.locator("tr[data-group='%s'][data-partition='0'] td.lag" % group)
    lag1 = page.locator("tr[data-group='%s'][data-partition='1'] td.lag" % group)
    expect(lag0).to_have_text("6")
    expect(lag1).to_have_text("0")
    shot(page, "topic")

    page.click("#nav a[data-view=groups]")
    expect(page.locator("tr[data-group='%s']" % group)).to_have_count(2)
    summary = page.locator("tr[data-group-summary='%s']" % group)
    expect(summary.locator("td").nth(1)).to_have_text("Empty")  # nobody consuming now
    expect(summary.locator("td.lag")).to_have_text("6")
    shot(page, "groups")


def test_close_a_connection_after_confirmation(page, http_base, amqp_addr, unique):
    conn = pika.BlockingConnection(pika.ConnectionParameters(host=amqp_addr[0], port=amqp_addr[1]))
    # The broker lists the peer's address: this connection's local port names its row.
    port = conn._impl._transport._sock.getsockname()[1]
    closed = []
    try:
        log_in(page, http_base)
        page.click("#nav a[data-view=connections]")
        row = page.locator("tr[data-connection]", has_text="127.0.0.1:%d" % port)
        expect(row).to_be_visible()
        shot(page, "connections")
        row.locator("button").click()
        expect(page.locator("#confirm-text")).to_contain_text("Close the amqp connection")
        page.click("#confirm-ok")
        expect(page.locator("#flash")).to_contain_text("Closed amqp connection")
        expect(row).to_have_count(0)
        # The client was told why (AMQP 320 CONNECTION_FORCED with the reason).
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as e:
            conn.channel().queue_declare(unique)
        assert e.value.reply_code == 320
        assert "Trident dashboard" in e.value.reply_text
        closed.append(True)
        # And after the next refresh it is still gone.
        page.reload()
        expect(page.locator("tr[data-connection]", has_text="127.0.0.1:%d" % port)).to_have_count(0)
    finally:
        if not closed:
            conn.close()


def test_exchanges_bindings_and_users(page, http_base, amqp_addr, unique):
    conn = amqp_queue_with(amqp_addr, unique, [])
    try:
        ch = conn.channel()
        ch.exchange_declare(unique + "-x", "topic")
        ch.queue_bind(unique, unique + "-x", "sensors.#")
        log_in(page, http_base)
        page.click("#nav a[data-view=exchanges]")
        expect(page.locator("tr[data-exchange='%s-x']" % unique)).to_contain_text("topic")
        binding = page.locator("tr[data-binding='%s-x->%s']" % (unique, unique))
        expect(binding).to_contain_text("sensors.#")
        shot(page, "exchanges")
        page.click("#nav a[data-view=users]")
        expect(page.locator("tr[data-user=guest]")).to_contain_text("administrator")
        expect(page.locator("tr[data-user=guest]")).to_contain_text("loopback only")
    finally:
        conn.close()


def test_markup_in_names_and_payloads_stays_text(page, http_base, amqp_addr):
    name = "<img src=x onerror=alert(1)>"
    conn = amqp_queue_with(amqp_addr, name, [b"<script>alert(2)</script>"])
    try:
        log_in(page, http_base)
        page.click("#nav a[data-view=queues]")
        link = page.locator("tr[data-queue='%s'] a" % name)
        expect(link).to_have_text(name)
        assert page.locator("main img").count() == 0
        link.click()
        page.click("#get-button")
        expect(page.locator("#got-messages pre")).to_have_text("<script>alert(2)</script>")
        assert page.locator("main script").count() == 0
    finally:
        conn.channel().queue_delete(name)
        conn.close()
