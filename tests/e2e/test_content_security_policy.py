"""Every page carries a strict Content-Security-Policy and breaks none of it; a javascript: link cannot be saved
(issue 19.4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from aiplatform.roles import PlatformRole
from registry import services
from registry.models import ModelCard
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

PAGES = ["/", "/models/", "/models/fast-chat/", "/models/fast-chat/edit", "/portal/", "/portal/variants/fast-chat/",
         "/api/docs/"]


@pytest.fixture
def signed_in_owner(page, make_user):
    owner = make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)
    alias = services.create_alias(actor=None, name="fast-chat", status="approved", owners=[owner])
    services.update_card(actor=None, alias=alias, summary="Quick.", license_url="https://vendor.example/eula")
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill("owner@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text("owner@example.com")
    return page


def _violations(page) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda m: messages.append(m.text) if "Content Security Policy" in m.text else None)
    return messages


@pytest.mark.parametrize("path", PAGES)
def test_a_page_has_a_strict_policy_and_no_violations(signed_in_owner, path):
    page = signed_in_owner
    violations = _violations(page)

    response = page.goto(path)
    page.wait_for_load_state("networkidle")

    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "object-src 'none'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert violations == []


def test_swagger_ui_still_renders_the_api(signed_in_owner):
    page = signed_in_owner
    violations = _violations(page)

    page.goto("/api/docs/")

    expect(page.get_by_role("heading", name="Switchboard API")).to_be_visible()
    expect(page.locator(".opblock").first).to_be_visible()
    assert violations == []


def test_a_javascript_licence_link_cannot_be_saved(signed_in_owner):
    page = signed_in_owner
    page.goto("/models/fast-chat/edit")

    page.get_by_label("Licence link").fill("javascript:alert(document.cookie)")
    page.get_by_role("button", name="Save card").click()

    expect(page.get_by_text("Give an http:// or https:// URL.")).to_be_visible()
    assert ModelCard.objects.get(alias__name="fast-chat").license_url == "https://vendor.example/eula"
