"""Saves the screenshots of docs/dashboard.md from a running broker with some traffic
(not a test: pytest collects only test_*.py). Usage:

    python tests/python/dashboard/make_screenshots.py http://127.0.0.1:15672 docs/dashboard QUEUE TOPIC

logs in as guest/guest (run it on the broker's machine) and saves overview, queues,
queue (QUEUE's page), topics, topic (TOPIC's page), groups, exchanges, connections and users."""

import os
import sys

from playwright.sync_api import expect, sync_playwright

from conftest import _find_chromium


def main(base, out, queue, topic):
    os.makedirs(out, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=_find_chromium(), args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1280, "height": 800})
        page.goto(base + "/")
        page.fill("#username", "guest")
        page.fill("#password", "guest")
        page.click("#login-button")
        expect(page.locator("#whoami")).to_contain_text("guest")

        def save(hash_, name, ready):
            page.goto(base + "/" + hash_)
            expect(page.locator(ready).first).to_be_visible()
            page.wait_for_timeout(500)  # let the canvas paint; a picture, not a test
            page.screenshot(path=os.path.join(out, name + ".png"), full_page=True)

        save("#/overview", "overview", ".total")
        save("#/queues", "queues", "tr[data-queue]")
        save("#/queue/%2F/" + queue, "queue", "#queue-ready")
        page.click("#get-button")
        expect(page.locator("#got-messages tr.message").first).to_be_visible()
        page.click("#purge-button")
        page.wait_for_timeout(300)
        page.screenshot(path=os.path.join(out, "purge-confirmation.png"))
        page.click("#confirm-cancel")
        save("#/topics", "topics", "tr[data-topic]")
        save("#/topic/" + topic, "topic", "#topic-name")
        save("#/groups", "groups", "tr[data-group-summary]")
        save("#/exchanges", "exchanges", "tr[data-exchange]")
        save("#/connections", "connections", "table")
        save("#/users", "users", "tr[data-user]")
        b.close()


if __name__ == "__main__":
    main(*sys.argv[1:5])
