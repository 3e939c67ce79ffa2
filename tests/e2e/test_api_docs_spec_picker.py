"""The API docs page offers the gateway's /v1/ document beside the portal's, and renders it within the CSP."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def test_the_spec_picker_opens_the_gateway_document(page):
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    page.goto("/api/docs/")
    expect(page.get_by_role("heading", name="Switchboard API")).to_be_visible()
    page.locator("select#select").select_option(label="Gateway API (/v1/)")

    expect(page.get_by_role("heading", name="Switchboard gateway (/v1/)")).to_be_visible()
    expect(page.get_by_text("/v1/completions", exact=True)).to_be_visible()
    assert violations == []


def test_the_gateway_docs_url_opens_on_the_gateway_document(page):
    page.goto("/api/gateway/docs/")
    expect(page.get_by_role("heading", name="Switchboard gateway (/v1/)")).to_be_visible()
