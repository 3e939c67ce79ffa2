"""In the browser: a developer pastes a prompt with an e-mail address, a card number and a <script> into the
guardrails dry-run, picks a policy, and sees the findings highlighted, the masked text sent upstream and the
caller's answer, without a page reload; the pasted markup stays text, and the page breaks no CSP rule."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from aiplatform.roles import TenantRole
from registry.services_policies import create_policy
from tests.conftest import PASSWORD

pytestmark = pytest.mark.e2e

PROMPT = "Please mail ann@example.com <script>window.pwned=1</script> and charge 4111 1111 1111 1111."


def sign_in(page, email: str) -> list[str]:
    """Sign in; the list collects every Content-Security-Policy violation the console reports from then on."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto("/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    expect(page.locator(".who")).to_have_text(email)
    return violations


@pytest.fixture
def developer(tenant_a, make_member):
    create_policy(actor=None, name="pii-basic", document={
        "input": [{"detector": "email", "action": "mask"}, {"detector": "payment_card", "action": "mask"}],
        "output": [{"detector": "email", "action": "mask"}], "unmask_output": True})
    create_policy(actor=None, name="card-block", document={"input": [{"detector": "payment_card", "action": "block"}]})
    return make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")


def test_a_developer_sees_findings_the_upstream_text_and_the_callers(page, server_url, developer):
    violations = sign_in(page, "dev@example.com")
    page.goto("/portal/")
    page.get_by_role("link", name="Guardrails dry-run").click()
    expect(page.get_by_role("heading", name="Guardrails dry-run")).to_be_visible()
    page.evaluate("window.stillThisPage = true")  # gone if the form reloaded the page

    page.get_by_label("Text").fill(PROMPT)
    page.get_by_label("Policy").select_option(label="pii-basic v1")
    page.get_by_role("button", name="Run").click()

    findings = page.locator("#dry-run-findings")
    expect(findings).to_contain_text("email")
    expect(findings).to_contain_text("ann@example.com")
    expect(findings).to_contain_text("4111 1111 1111 1111")
    expect(page.locator("#dry-run-highlighted mark")).to_have_count(2)
    upstream = page.locator("#dry-run-upstream")
    expect(upstream).to_contain_text("<EMAIL_1>")
    expect(upstream).not_to_contain_text("ann@example.com")
    expect(upstream).not_to_contain_text("4111 1111 1111 1111")
    expect(page.locator("#dry-run-caller")).to_have_text(PROMPT)
    expect(page.locator("#dry-run-highlighted")).to_contain_text("<script>window.pwned=1</script>")
    assert page.locator("#dry-run script").count() == 0
    assert page.evaluate("window.pwned") is None
    assert page.evaluate("window.stillThisPage") is True
    assert violations == []


def test_a_blocking_policy_shows_nothing_sent_upstream_and_the_403(page, server_url, developer):
    violations = sign_in(page, "dev@example.com")
    page.goto("/portal/guardrails/dry-run/")

    page.get_by_label("Text").fill(PROMPT)
    page.get_by_label("Policy").select_option(label="card-block v1")
    page.get_by_role("button", name="Run").click()

    expect(page.locator("#dry-run-upstream-blocked")).to_contain_text("blocked before any model is called")
    error = page.locator("#dry-run-error")
    expect(error).to_contain_text("Blocked by policy 'card-block'")
    expect(error).to_contain_text("policy_violation")
    expect(error).not_to_contain_text("4111")
    assert violations == []
