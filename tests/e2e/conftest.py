"""Browser tests: Playwright driving Debian's Chromium against the real server (tests/servers.py).

Playwright never downloads a browser here; it drives the system Chromium
(``apt-get install -y chromium``). Without it the tests skip locally and fail on CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.conftest import PASSWORD
from tests.integration.gateway_setup import fake_upstream  # noqa: F401  (fixture)
from tests.servers import skip_or_fail

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# The machine has no internet: without these Chromium waits on network services at start.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser(django_db_setup):
    """Chromium for one test module.

    Playwright's sync API keeps an event loop running in this thread, and Django then refuses
    ORM calls (which tests make to arrange and flush data). They are safe here, so the
    refusal is lifted -- for this module only, so no other test's async-safety is masked.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("Playwright for Python is not installed")
    if not os.access(CHROMIUM, os.X_OK):
        skip_or_fail(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server_url) -> Iterator:
    """A fresh browser tab (own cookies) pointed at the real server."""
    context = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form, as a person would; back on a page that shows their address."""
    from playwright.sync_api import expect

    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text(email)
