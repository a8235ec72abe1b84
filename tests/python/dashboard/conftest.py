"""Headless Chromium for the dashboard tests: Debian's `chromium` package driven by the
PyPI `playwright` package (Playwright's own browser download is not reachable from CI
machines). Installs chromium itself when it is missing and this runs as root with
apt-get (CI runs on a fresh clone); skips with the reason only when that is impossible."""

import os
import shutil
import subprocess

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def _find_chromium():
    explicit = os.environ.get("TRIDENT_CHROMIUM")
    if explicit:
        return explicit if os.path.exists(explicit) else None
    for name in CANDIDATES:
        path = shutil.which(name)
        if path:
            return path
    return None


def _install_chromium():
    """Returns None when installed, else why it could not be."""
    if not shutil.which("apt-get"):
        return "apt-get is not available on this machine"
    if os.geteuid() != 0:
        return "not running as root, so apt-get cannot install it (run scripts/install-deps.sh as root)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
    ):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            return "`%s` failed: %s" % (" ".join(cmd), (r.stderr or r.stdout).strip()[-500:])
    return None


@pytest.fixture(scope="session")
def chromium_path():
    path = _find_chromium()
    if path is None:
        why = _install_chromium()
        path = _find_chromium()
        if path is None:
            pytest.skip("dashboard tests need Chromium and it cannot be installed: %s" % why)
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=chromium_path,
            headless=True,
            # Root in a container has no user namespace for Chromium's sandbox.
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        yield b
        b.close()


@pytest.fixture
def http_base():
    value = os.environ.get("TRIDENT_HTTP")
    if not value:
        pytest.skip("TRIDENT_HTTP is not set; run through `cargo test --workspace`")
    return "http://" + value


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = ctx.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # Refused requests (a wrong password on purpose) are console errors too; script
    # errors and CSP refusals are what matters.
    pg.on(
        "console",
        lambda m: m.type == "error"
        and "Failed to load resource" not in m.text
        and errors.append(m.text),
    )
    yield pg
    ctx.close()
    # A script error (or a CSP refusal, which Chromium reports on the console) is a
    # broken page even when the assertions above happened to pass.
    assert errors == [], "errors in the page: %s" % errors
