"""The prompt API pages: an owner creates a prompt API, writes versions (a template with an undeclared variable is
refused naming it), publishes, moves labels and previews a call; a second owner approves what needs approval;
the page shows each version's diff, usage and feedback, the snippet, and how to request access."""

from __future__ import annotations

import json
import secrets
from decimal import Decimal

import pytest
from django.utils import timezone

from aiplatform.roles import TenantRole
from portal.models import Feedback, UsageEvent
from registry.models import PromptApi, PromptVersion

pytestmark = [pytest.mark.django_db, pytest.mark.smoke]

VARIABLES = json.dumps([{"name": "text", "description": "What to summarise"},
                        {"name": "n", "type": "integer", "default": 3}])


@pytest.fixture
def owners(tenant_a, make_member, alias):
    return (make_member(tenant_a, TenantRole.DEVELOPER, email="author@example.com"),
            make_member(tenant_a, TenantRole.DEVELOPER, email="second@example.com"))


def new_version(client, template="Summarise {{ text }} in {{ n }} bullets", **fields):
    return client.post("/prompts/summarise/versions/new", {"model": "fast-chat", "template": template,
                                                             "variables": VARIABLES, **fields})


def test_an_owner_publishes_a_prompt_api_and_previews_a_call(client, owners, developer, app, approved):
    author, _ = owners
    client.force_login(author)
    created = client.post("/prompts/new", {"team": "alpha", "slug": "summarise", "title": "Summarise in bullets"})
    assert created.status_code == 302 and created["Location"] == "/prompts/summarise/versions/new"
    refused = new_version(client, template="Summarise {{ text }} for {{ reader }}")
    assert refused.status_code == 400 and "undefined variable reader" in refused.content.decode()
    assert new_version(client, system_prompt="Be terse.", note="First").status_code == 302
    client.post("/prompts/summarise/versions/1/publish")
    new_version(client, template="In {{ n }} bullets: {{ text }}", note="Bullets first")
    client.post("/prompts/summarise/versions/2/publish")
    client.post("/prompts/summarise/labels", {"label": "production", "version": 1})
    page = client.get("/prompts/summarise/").content.decode()
    assert "Callers who name no version get <strong>version 1</strong> (production)" in page
    assert '<span class="diff-del">-template:</span>' not in page  # only what changed is marked
    assert '<span class="diff-add">+In {{ n }} bullets: {{ text }}</span>' in page
    assert 'client.post(&quot;/prompts/summarise&quot;' in page or 'client.post("/prompts/summarise"' in page

    preview = client.post("/prompts/summarise/try", {"version": 1, "var-text": "{{ n }} the minutes"}).content.decode()
    assert "<pre>Summarise {{ n }} the minutes in 3 bullets</pre>" in preview  # rendered literally, n defaulted
    missing = client.post("/prompts/summarise/try", {"version": 1})
    assert missing.status_code == 400 and "Missing variable &#x27;text&#x27;" in missing.content.decode()

    # A teammate who does not own it sees the page, and can ask for access, but changes nothing.
    client.force_login(developer)
    page = client.get("/prompts/summarise/").content.decode()
    assert "Move label" not in page and "Request access" in page
    assert client.post("/prompts/summarise/versions/1/publish").status_code == 403
    assert PromptVersion.objects.filter(status="published").count() == 2


def test_what_needs_approval_waits_for_the_second_owner(client, owners, tenant_a):
    author, second = owners
    client.force_login(author)
    client.post("/prompts/new", {"team": "alpha", "slug": "summarise", "title": "S", "requires_approval": "on"})
    PromptApi.objects.get().owners.add(second)
    new_version(client)
    client.post("/prompts/summarise/versions/1/publish")
    page = client.get("/prompts/summarise/").content.decode()
    assert "Waiting for approval:</strong> publish version 1" in page
    change = PromptApi.objects.get().changes.get()
    own = client.post(f"/prompts/summarise/changes/{change.pk}/decide", {"decision": "approve"}, follow=True)
    assert "second person" in own.content.decode()
    client.force_login(second)
    client.post(f"/prompts/summarise/changes/{change.pk}/decide", {"decision": "approve", "comment": "Good"})
    assert PromptVersion.objects.get().status == "published"
    # Running it needs a team whose playground may use the version's model; this team has none.
    ran = client.post("/prompts/summarise/try", {"version": 1, "var-text": "x", "run": "1"}).content.decode()
    assert "<pre>Summarise x in 3 bullets</pre>" in ran and "None of your teams may use fast-chat" in ran


def test_usage_and_feedback_per_version(client, owners, tenant_a, app, api_key):
    author, _ = owners
    client.force_login(author)
    client.post("/prompts/new", {"team": "alpha", "slug": "summarise", "title": "S"})
    new_version(client)
    client.post("/prompts/summarise/versions/1/publish")
    for i in range(3):
        rid = secrets.token_hex(8)
        UsageEvent.objects.create(request_id=rid, occurred_at=timezone.now(), tenant=tenant_a, application=app,
                                  key=api_key, alias="fast-chat", operation="chat", total_tokens=100,
                                  cost=Decimal("0.001"), total_ms=10, status=200, prompt="summarise", prompt_version=1)
        if i == 0:
            Feedback.objects.create(tenant=tenant_a, request_id=rid, alias="fast-chat", rating="up", user=author)
    page = client.get("/prompts/summarise/").content.decode()
    assert "3 calls · 0 failed · 300 tokens · $0.003 · feedback 1 up, 0 down" in page
