"""In the browser (issue 16): a developer saves a playground answer as an example for their team; a teammate finds
it by its use case, upvotes it, opens it in the playground with its prompt and settings, and sends it."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from examples.models import Example
from tests.e2e.conftest import sign_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def team(server_url, make_member):
    call_command("seed_demo", stdout=StringIO())  # the demo model's card names the use cases demo, testing, chat
    demo = Tenant.objects.get(slug="demo")
    return (make_member(demo, TenantRole.DEVELOPER, email="pat@example.com"),
            make_member(demo, TenantRole.VIEWER, email="sam@example.com"))


def test_save_an_example_from_the_playground_and_a_teammate_finds_it_by_tag(page, browser, server_url, team, tmp_path):
    author, teammate = team
    csp_violations = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, author.email)

    page.goto("/playground/?alias=demo-chat")
    page.get_by_text("Settings").click()
    page.get_by_label("System prompt").fill("Answer in one line.")
    page.get_by_label("Temperature").fill("0.2")
    page.get_by_label("Message").fill("Name three uses of a paperclip")
    page.get_by_role("button", name="Send", exact=True).click()
    answer = page.locator("#transcript .turn-model").first
    expect(answer).to_contain_text("paperclip")
    answer.get_by_role("link", name="Save as example").click()

    expect(page.get_by_role("heading", name="Save as example")).to_be_visible()
    page.get_by_label("Title").fill("Paperclip brainstorm")
    page.get_by_label("testing").uncheck()
    page.get_by_label("demo", exact=True).uncheck()
    page.get_by_label("chat", exact=True).check()
    page.get_by_label("My team").check()
    page.get_by_role("button", name="Save example").click()
    expect(page).to_have_url(re.compile(r"/examples/\d+/$"))
    expect(page.locator("h1")).to_have_text("Paperclip brainstorm")
    example = Example.objects.get()
    assert (example.tag_names, example.visibility, example.system_prompt) == (["chat"], "team", "Answer in one line.")

    # A teammate finds it by its use case, upvotes it and opens it in the playground.
    other = browser.new_context(base_url=server_url, viewport={"width": 1280, "height": 800}).new_page()
    other.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(other, teammate.email)
    other.get_by_role("link", name="Examples").first.click()
    other.locator(".examples-facets").get_by_role("link", name="chat", exact=True).click()
    expect(other).to_have_url(re.compile(r"\?tag=chat$"))
    other.get_by_role("link", name="Paperclip brainstorm").click()
    expect(other.locator(".example-prompt-text")).to_have_text("Name three uses of a paperclip")
    other.get_by_role("button", name="Upvote").click()
    expect(other.locator(".vote-count")).to_have_text("1")
    expect(other.get_by_role("button", name="Upvote")).to_have_attribute("aria-pressed", "true")
    other.screenshot(path=tmp_path / "example.png")

    other.get_by_role("button", name="Open in playground").click()
    expect(other.get_by_role("status")).to_contain_text("Paperclip brainstorm")
    expect(other.get_by_label("Message")).to_have_value("Name three uses of a paperclip")
    expect(other.get_by_label("Model")).to_have_value("demo-chat")
    expect(other.get_by_label("System prompt")).to_have_value("Answer in one line.")
    expect(other.get_by_label("Temperature")).to_have_value("0.20")
    other.get_by_role("button", name="Send", exact=True).click()
    expect(other.locator("#transcript .turn-model").first).to_contain_text("paperclip")
    expect(other).to_have_url(re.compile(r"/playground/c/\d+/$"))

    # The card of the model shows it among its best examples.
    other.goto("/models/demo-chat/")
    expect(other.locator(".card-examples")).to_contain_text("Paperclip brainstorm")
    assert csp_violations == []
