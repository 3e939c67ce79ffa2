"""In the browser (issue 16): a developer publishes a prompt API (a version, then the production label), previews
and runs a call; a developer of another team requests access for their application and the prompt's owner approves it;
the application calls it with the openai SDK pinned to a version and via the label, plain and streaming; the
owner publishes version 2 and moves the label; the prompt's page shows the usage of each version."""

from __future__ import annotations

import json
from io import StringIO

import openai
import pytest
from django.core.management import call_command
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from playwright.sync_api import expect

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from portal import services as portal_services
from portal.models import UsageEvent
from tests.e2e.conftest import sign_in
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.e2e

VARIABLES = json.dumps([{"name": "text"}, {"name": "n", "type": "integer", "default": 3}])


@pytest.fixture
def teams(server_url, make_member, tenant_b):
    call_command("seed_demo", stdout=StringIO())  # the demo model, and the demo team
    publisher = make_member(Tenant.objects.get(slug="demo"), TenantRole.DEVELOPER, email="pat@example.com")
    caller = make_member(tenant_b, TenantRole.DEVELOPER, email="sam@example.com")
    app = portal_services.create_application(actor=caller, tenant=tenant_b, name="ticket-bot")
    return publisher, caller, app


def write_version(page, template: str) -> None:
    page.get_by_label("Model").select_option("demo-chat")
    page.get_by_label("Template").fill(template)
    page.get_by_label("Variables").fill(VARIABLES)
    page.get_by_role("button", name="Save draft").click()


def test_publish_subscribe_call_and_see_usage_per_version(page, browser, server_url, teams, tmp_path):
    publisher, caller, app = teams
    csp_violations = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, publisher.email)

    # Publish.
    page.goto("/prompts/")
    page.get_by_role("link", name="New prompt API").click()
    page.get_by_label("Slug").fill("summarise")
    page.get_by_label("Title").fill("Summarise in bullets")
    page.get_by_role("button", name="Create").click()
    write_version(page, "Summarise {{ text }} in {{ n }} bullets")
    page.get_by_role("button", name="Publish version 1").click()
    expect(page.get_by_role("status").or_(page.locator(".messages"))).to_contain_text("Published version 1")
    page.get_by_role("button", name="Move label").click()  # production → 1
    expect(page.locator("#current-version")).to_contain_text("version 1 (production)")

    # Try it: the messages a call would send.
    page.locator(".try-it").get_by_label("text").fill("the minutes")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("status", name="The messages version 1 sends")).to_contain_text(
        "Summarise the minutes in 3 bullets")
    page.locator(".try-it").get_by_label("text").fill("the minutes")
    page.get_by_role("button", name="Run it").click()  # on the model, through the gateway, with the playground key
    expect(page.get_by_role("status", name="The answer of demo-chat")).to_contain_text(
        "Summarise the minutes in 3 bullets")  # the demo model says what it was told

    # Another team asks for access; the prompt's owner approves.
    other = browser.new_context(base_url=server_url).new_page()
    sign_in(other, caller.email)
    other.goto("/prompts/summarise/")
    other.get_by_role("button", name="Request access").click()
    expect(other.get_by_label("Model")).to_have_value("summarise")
    other.get_by_label("Use case").fill("Summarise support tickets")
    other.locator("form").filter(has=other.get_by_label("Use case")).get_by_role("button", name="Request access").click()
    page.goto("/portal/approvals/")
    page.get_by_role("row").filter(has_text="ticket-bot").get_by_role("button", name="Approve").click()
    expect(page.locator("#queue")).to_contain_text(f"approved by {publisher.email}")  # the prompt's owner decides

    # The application calls it with the SDK: pinned, by label, streaming.
    _, secret = portal_services.create_api_key(actor=None, application=app, name="prompts")
    client = openai.OpenAI(base_url=server_url + "/v1", api_key=secret, max_retries=0)
    wait_for(lambda: _callable(client), seconds=15, what="the gateway to load the subscription")
    pinned = client.post("/prompts/summarise@1", body={"variables": {"text": "the minutes"}}, cast_to=ChatCompletion)
    assert "Summarise the minutes in 3 bullets" in pinned.choices[0].message.content  # the demo model echoes
    chunks = list(client.post("/prompts/summarise@production", body={"variables": {"text": "a memo", "n": 2},
                                                                       "stream": True},
                              cast_to=ChatCompletion, stream=True, stream_cls=openai.Stream[ChatCompletionChunk]))
    assert "Summarise a memo in 2 bullets" in "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)

    # Version 2, published, and the label moved to it: label callers follow, pinned ones do not.
    page.goto("/prompts/summarise/")
    page.get_by_role("link", name="New version").click()
    write_version(page, "In {{ n }} bullets, summarise: {{ text }}")
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_label("points at version").select_option("2")
    page.get_by_role("button", name="Move label").click()
    expect(page.locator("#current-version")).to_contain_text("version 2 (production)")
    wait_for(lambda: "In 2 bullets, summarise: x" in _answer(client, "summarise@production", {"text": "x", "n": 2}),
             seconds=15, what="the gateway to follow the moved label")
    assert "Summarise x in 3 bullets" in _answer(client, "summarise@1", {"text": "x"})

    wait_for(lambda: UsageEvent.objects.filter(prompt="summarise", prompt_version=2).exists()
             and UsageEvent.objects.filter(prompt="summarise", prompt_version=1).count() >= 3,
             seconds=15, what="the calls in the ledger")
    page.reload()
    expect(page.locator("#version-2 .usage")).to_contain_text(
        f"{UsageEvent.objects.filter(prompt='summarise', prompt_version=2).count()} call")
    expect(page.locator("#version-1 .usage")).to_contain_text(
        f"{UsageEvent.objects.filter(prompt='summarise', prompt_version=1).count()} calls")
    page.locator("#version-2").get_by_text("Changes from version 1").click()
    expect(page.locator("#version-2 .diff-add")).to_contain_text("In {{ n }} bullets, summarise: {{ text }}")
    page.screenshot(path=tmp_path / "prompt.png", full_page=True)
    assert csp_violations == []


def _callable(client: openai.OpenAI) -> bool:
    try:
        client.post("/prompts/summarise@1", body={"variables": {"text": "ping"}}, cast_to=ChatCompletion)
    except openai.APIStatusError:
        return False
    return True


def _answer(client: openai.OpenAI, reference: str, variables: dict) -> str:
    reply = client.post(f"/prompts/{reference}", body={"variables": variables}, cast_to=ChatCompletion)
    return reply.choices[0].message.content
