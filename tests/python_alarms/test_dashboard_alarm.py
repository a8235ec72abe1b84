"""The dashboard under a raised memory alarm (tests/alarms.rs starts the broker with a
1-byte watermark): the overview shows a banner saying publishers are blocked, and the
resources table marks memory as in alarm. Headless Debian Chromium through playwright, as
tests/python/dashboard does; skipped with the reason when no Chromium is installed."""

import os
import shutil

import pytest


def _chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def test_the_overview_shows_the_memory_alarm():
    http = os.environ.get("TRIDENT_HTTP")
    if not http:
        pytest.skip("TRIDENT_HTTP is not set; run through `cargo test --test alarms`")
    chromium = _chromium()
    if chromium is None:
        pytest.skip("no Chromium on this machine (scripts/install-deps.sh installs it)")
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            page = browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto("http://" + http + "/")
            page.fill("#username", "guest")
            page.fill("#password", "guest")
            page.click("#login-button")
            banner = page.locator("#alarms")
            expect(banner).to_be_visible(timeout=15000)
            expect(banner).to_contain_text("Memory alarm")
            expect(banner).to_contain_text("Publishers are blocked")
            expect(banner).not_to_contain_text("Disk alarm")
            memory = page.locator('#resources tr[data-resource="Memory used"]')
            expect(memory.locator("td").nth(3)).to_have_text("alarm")
            # The watermark is 1 byte: the table shows it as such.
            expect(memory).to_contain_text("at most 1 B")
            assert errors == [], "errors in the page: %s" % errors
        finally:
            browser.close()
