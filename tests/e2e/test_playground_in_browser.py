"""In the browser, as an employee would: from a model card to a streamed answer in the playground, stop a
long answer, compare two models, give a thumbs-down the owner then finds in the queue and on the card,
reopen a saved conversation; and the same pages at 390 px without horizontal scrolling (issue 11)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from aiplatform.models import Tenant
from aiplatform.roles import PlatformRole, TenantRole
from portal.models import ChatMessage, Feedback, UsageEvent
from registry import services as registry_services
from registry.models import Endpoint, ModelAlias
from tests.e2e.conftest import sign_in
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def demo(server_url, make_member, make_user):
    """The demo seed, a member of its team, the demo model's owner, and a second model to compare with."""
    call_command("seed_demo", stdout=StringIO())
    member = make_member(Tenant.objects.get(slug="demo"), TenantRole.DEVELOPER, email="pat@example.com")
    owner = make_user("reviewer@example.com", platform_role=PlatformRole.MODEL_OWNER)
    ModelAlias.objects.get(name="demo-chat").owners.add(owner)
    second = registry_services.create_alias(actor=None, name="demo-chat-b", status="approved")
    registry_services.set_routes(actor=None, alias=second, routes=[
        registry_services.RouteSpec(endpoint=Endpoint.objects.get(upstream_model="demo-chat-1"))])
    call_command("create_api_key", "--tenant", "demo", "--app", "demo-app", "--models", "demo-chat-b",
                 stdout=StringIO())
    return member, owner


def answers(page):
    return page.locator("#transcript .turn-model")


def test_from_the_card_to_a_streamed_answer_stop_feedback_and_reopen(page, browser, server_url, demo, tmp_path):
    member, owner = demo
    csp_violations = []
    page.on("console", lambda m: csp_violations.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(page, member.email)

    # The catalogue's card leads to the playground with the model chosen.
    page.goto("/models/")
    page.get_by_role("link", name="demo-chat", exact=True).first.click()
    page.get_by_role("button", name="Try in playground").click()
    expect(page.get_by_label("Model")).to_have_value("demo-chat")

    # The answer arrives in pieces: seen part-written while it streams, then whole.
    page.get_by_label("Message").fill("Tell me three things about " + " ".join(f"topic{i}" for i in range(40)))
    page.get_by_role("button", name="Send", exact=True).click()
    page.wait_for_function("""() => {
        const turn = document.querySelector('#transcript .turn-model.streaming .turn-text');
        return turn && turn.textContent.length > 0 && !turn.textContent.includes('(45 words)');
    }""")
    expect(answers(page).first).to_contain_text("(45 words)")
    expect(page).to_have_url(re.compile(r"/playground/c/\d+/$"))
    expect(answers(page).first.locator(".figures")).to_contain_text("first token")
    expect(answers(page).first.locator(".figures")).to_contain_text(re.compile(r"\d+ \+ \d+ tokens"))
    expect(answers(page).first.locator(".figures")).to_contain_text("$", timeout=30_000)  # from the ledger
    page.screenshot(path=tmp_path / "playground.png")

    # A long answer, stopped: the upstream call ends and what arrived is kept, marked stopped.
    page.get_by_label("Message").fill(" ".join(f"word{i}" for i in range(400)))
    page.get_by_role("button", name="Send", exact=True).click()
    expect(answers(page).nth(1).locator(".turn-text")).to_contain_text("word1")
    # The transcript grows under a composer that stays put: Stop does not move under the pointer
    # (when the page scrolled the answer into view on every delta, Stop left the window and a click
    # on it could land on the answer instead). The answer wraps as it streams (Pico's busy style kept
    # it on one line, running off the page).
    stop_button = page.get_by_role("button", name="Stop")
    expect(stop_button).to_be_in_viewport()
    where_stop_was = stop_button.bounding_box()
    expect(answers(page).nth(1).locator(".turn-text")).to_contain_text("word60")
    expect(stop_button).to_be_in_viewport()
    assert stop_button.bounding_box() == where_stop_was
    assert answers(page).nth(1).locator(".turn-text").evaluate("e => e.scrollWidth <= e.clientWidth")
    page.screenshot(path=tmp_path / "streaming.png")
    stop_button.click()
    expect(answers(page).nth(1)).to_contain_text("stopped")
    stopped = ChatMessage.objects.filter(role="assistant", stopped=True).get()
    assert "word399" not in stopped.content
    wait_for(lambda: UsageEvent.objects.filter(request_id=stopped.request_id, status=499).exists(),
             what="the stopped call in the ledger")

    # Thumbs-down with a category on the first answer.
    first = answers(page).first
    first.get_by_label("Category").select_option("hallucination")
    first.get_by_label("Comment").fill("It made the topics up")
    first.get_by_role("button", name="Bad answer").click()
    expect(first).to_contain_text("Thank")
    assert Feedback.objects.get().category == "hallucination"

    # Reopen the conversation from the list: both turns are there.
    title = page.get_by_label("Conversation title").input_value()
    page.goto("/playground/")
    page.get_by_role("link", name=title).click()
    expect(answers(page)).to_have_count(2)
    expect(answers(page).first).to_contain_text("(45 words)")

    # The model's owner finds it in the queue and on the card.
    owner_page = browser.new_context(base_url=server_url).new_page()
    sign_in(owner_page, owner.email)
    owner_page.goto("/portal/feedback/")
    expect(owner_page.get_by_role("row").filter(has_text="It made the topics up")).to_contain_text("Hallucination")
    owner_page.goto("/models/demo-chat/")
    summary = owner_page.locator(".feedback-summary")
    expect(summary).to_contain_text("Hallucination (1)")
    expect(summary).to_contain_text("0 up · 1 down")
    assert csp_violations == []


def test_compare_two_models_side_by_side_and_vote(page, demo, tmp_path):
    member, _ = demo
    sign_in(page, member.email)
    page.goto("/playground/compare/")
    page.get_by_label("Model 1").select_option("demo-chat")
    page.get_by_label("Model 2").select_option("demo-chat-b")
    page.get_by_label("Prompt", exact=True).fill("Say something clever")
    page.get_by_role("button", name="Compare").click()

    for slot in ("#slot-0", "#slot-1"):
        expect(page.locator(slot)).to_contain_text("You said", timeout=15_000)
        expect(page.locator(slot).locator(".figures")).to_contain_text("first token")
    page.get_by_role("button", name="demo-chat-b is better").click()
    expect(page.locator("#compare-vote")).to_contain_text("You voted for demo-chat-b")
    page.screenshot(path=tmp_path / "compare.png")

    page.reload()  # the comparison is kept, with the vote
    expect(page.locator("#compare-vote")).to_contain_text("You voted for demo-chat-b")


def test_model_output_with_script_and_javascript_links_never_runs(page, demo):
    member, _ = demo
    sign_in(page, member.email)
    page.on("dialog", lambda dialog: pytest.fail(f"a dialog opened: {dialog.message}"))
    page.goto("/playground/?alias=demo-chat")
    # The demo model repeats the prompt, so its answer carries the attack back to the page.
    page.get_by_label("Message").fill('<script>alert(1)</script> <img src=x onerror=alert(2)> '
                                      '[click me](javascript:alert(3)) <a href="javascript:alert(4)">here</a>')
    page.get_by_role("button", name="Send", exact=True).click()
    answer = answers(page).first
    expect(answer).to_contain_text("(8 words)")
    assert answer.locator("script, img, a[href^='javascript']").count() == 0
    expect(answer).to_contain_text("<script>alert(1)</script>")  # shown as text


@pytest.mark.parametrize("path", ["/playground/", "/playground/compare/", "/models/demo-chat/"])
def test_the_playground_pages_fit_a_phone(browser, server_url, demo, path):
    member, _ = demo
    context = browser.new_context(base_url=server_url, viewport=PHONE)
    page = context.new_page()
    sign_in(page, member.email)
    page.goto(path)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()


def test_someone_without_a_team_learns_how_to_get_access(page, make_user, server_url):
    make_user("newcomer@example.com")
    sign_in(page, "newcomer@example.com")
    page.goto("/playground/")
    expect(page.get_by_role("heading", name="Playground")).to_be_visible()
    expect(page.get_by_text("ask a team admin to invite you")).to_be_visible()
