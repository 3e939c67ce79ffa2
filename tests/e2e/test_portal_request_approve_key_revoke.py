"""In the browser: a developer asks for a model, its owner approves, the developer gets a key once,
calls the model through the real gateway with it, revokes it, and the gateway refuses it."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from aiplatform.roles import PlatformRole, TenantRole
from portal.models import ApiKey
from portal.models.keys import hash_secret
from portal.selectors import gateway_key_table
from registry import services as registry_services
from registry.models import Provider
from tests.e2e.conftest import sign_in
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.e2e


def call_gateway(server_url: str, key: str) -> int:
    return httpx.post(f"{server_url}/v1/chat/completions", headers={"authorization": f"Bearer {key}"},
                      json={"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]}).status_code


@pytest.fixture
def fast_chat(make_user, fake_upstream):
    owner = make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)
    provider = registry_services.create_provider(actor=None, name="acme", kind="openai-compatible",
                                                 base_url=fake_upstream, api_key="env:SB_TEST_UPSTREAM_KEY")
    endpoint = registry_services.create_endpoint(actor=None, provider=provider, upstream_model="fake-model",
                                                 capabilities=["chat"])
    alias = registry_services.create_alias(actor=None, name="fast-chat", status="approved", owners=[owner])
    registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
    assert Provider.objects.count() == 1
    return alias


def test_request_approve_key_shown_once_revoke(page, browser, server_url, tenant_a, make_member, fast_chat, tmp_path):
    make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")

    # The developer registers an application and asks for the model.
    sign_in(page, "dev@example.com")
    page.goto("/portal/teams/alpha/")
    expect(page.get_by_text("No applications yet.")).to_be_visible()
    page.get_by_label("Name").fill("checkout-bot")
    page.get_by_role("button", name="Register application").click()
    expect(page.get_by_role("heading", name="checkout-bot")).to_be_visible()
    page.get_by_label("Model").select_option("fast-chat")
    page.get_by_label("Use case").fill("Answer customer questions")
    page.get_by_role("button", name="Request access").click()
    expect(page.locator("#subscriptions")).to_contain_text("pending")

    # The model's owner approves it from the queue, with a comment (an htmx swap of the row).
    approver = browser.new_context(base_url=server_url).new_page()
    sign_in(approver, "owner@example.com")
    approver.goto("/portal/approvals/")
    row = approver.get_by_role("row").filter(has_text="Answer customer questions")
    expect(row).to_contain_text("dev@example.com")
    expect(row).to_contain_text("Internal")
    row.get_by_label(re.compile("Comment on request")).fill("Go ahead")
    row.get_by_role("button", name="Approve").click()
    expect(approver.locator("#queue")).to_contain_text("approved by owner@example.com")
    approver.screenshot(path=tmp_path / "queue.png", full_page=True)

    # The developer's open page hears about it live: a toast, and the row itself turns to approved.
    expect(page.locator("#portal-toasts")).to_contain_text("access to fast-chat approved", timeout=10_000)
    expect(page.locator("#subscriptions")).to_contain_text("approved", timeout=10_000)
    expect(page.locator("#subscriptions")).not_to_contain_text("pending")

    # A key, shown once (post/redirect/get: a reload shows it no more and makes no second key).
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_text("it is shown this once")).to_be_visible()
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    secret = page.locator("#secret").inner_text().strip()
    assert secret.startswith("sb-")
    page.screenshot(path=tmp_path / "key.png")
    page.reload()  # back on the application page, which says the secret is gone
    expect(page.get_by_text("was shown once and cannot be shown again")).to_be_visible()
    key = ApiKey.objects.get()
    assert key.key_hash == hash_secret(secret) and not gateway_key_table()[key.key_hash].revoked
    assert secret not in page.content()
    expect(page.locator("#keys")).to_contain_text(key.key_prefix)

    # The key calls the model through the gateway.
    wait_for(lambda: call_gateway(server_url, secret) == 200, what="the gateway to accept the new key")

    # Revoked.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#key-{key.pk}").get_by_role("button", name="Revoke").click()
    expect(page.locator(f"#key-{key.pk}")).to_contain_text("revoked")
    assert gateway_key_table()[key.key_hash].revoked
    # ...and the gateway refuses it.
    wait_for(lambda: call_gateway(server_url, secret) == 401, what="the gateway to refuse the revoked key")
