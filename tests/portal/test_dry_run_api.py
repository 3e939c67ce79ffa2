"""The guardrails dry-run, over the API and the page: what a policy finds in a pasted text, what would go
upstream, what the caller would get; for admins, auditors and team developers; nothing kept."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole
from portal.models import GuardDecision, PayloadRecord, UsageEvent
from registry.services_policies import create_policy
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

API = "/api/guardrails/dry-run/"
PAGE = "/portal/guardrails/dry-run/"
PROMPT = "Write to ann@example.com, card 4111 1111 1111 1111, please."
PII = {"input": [{"detector": "email", "action": "mask"}, {"detector": "payment_card", "action": "mask"}],
       "output": [{"detector": "email", "action": "mask"}], "unmask_output": True}


@pytest.fixture
def pii_policy(db):
    return create_policy(actor=None, name="pii-basic", document=PII)


@pytest.fixture
def card_block(db):
    return create_policy(actor=None, name="card-block", document={
        "input": [{"detector": "payment_card", "action": "block"}]})


def signed_in(client, user):
    client.login(email=user.email, password=PASSWORD)
    return client


def test_a_developer_sees_the_findings_the_upstream_text_and_the_callers(client, developer, pii_policy):
    answer = signed_in(client, developer).post(API, {"text": PROMPT, "policy": "pii-basic"},
                                               content_type="application/json")

    assert answer.status_code == 200
    body = answer.json()
    found = [(f["stage"], f["detector"], f["action"], f["text"]) for f in body["findings"]]
    assert ("input", "email", "mask", "ann@example.com") in found
    assert ("input", "payment_card", "mask", "4111 1111 1111 1111") in found
    assert "ann@example.com" not in body["upstream_text"]
    assert "<EMAIL_1>" in body["upstream_text"]
    assert body["caller_text"] == PROMPT  # un-masked on the way back
    assert body["blocked"] is None
    assert body["active"]["email"] is True


def test_a_block_names_the_rule_sends_nothing_upstream_and_shows_the_403_body(client, developer, card_block):
    body = signed_in(client, developer).post(API, {"text": PROMPT, "policy": "card-block"},
                                             content_type="application/json").json()

    assert body["blocked"]["detector"] == "payment_card"
    assert body["upstream_text"] is None
    assert body["caller_text"] is None
    assert body["error"]["error"]["code"] == "policy_violation"
    assert "card-block" in body["error"]["error"]["message"]
    assert "4111" not in body["error"]["error"]["message"]


def test_an_ad_hoc_document_is_run_instead_of_a_stored_policy(client, developer):
    document = "input:\n  - {detector: email, action: block}\n"

    body = signed_in(client, developer).post(API, {"text": PROMPT, "document": document},
                                             content_type="application/json").json()

    assert body["policy"] == "ad-hoc"
    assert body["blocked"]["detector"] == "email"


def test_an_invalid_document_is_a_400_naming_its_path(client, developer):
    answer = signed_in(client, developer).post(
        API, {"text": PROMPT, "document": "input:\n  - {detector: email, action: explode}\n"},
        content_type="application/json")

    assert answer.status_code == 400
    assert "input[0].action" in str(answer.json()["document"])


def test_a_text_over_the_limit_is_a_clear_400(client, developer, pii_policy):
    answer = signed_in(client, developer).post(API, {"text": "a" * 200_001, "policy": "pii-basic"},
                                               content_type="application/json")

    assert answer.status_code == 400
    assert "200000" in str(answer.json()["text"])


def test_without_a_policy_or_document_it_says_what_is_missing(client, developer):
    answer = signed_in(client, developer).post(API, {"text": PROMPT}, content_type="application/json")

    assert answer.status_code == 400
    assert "policy" in answer.json()


def test_a_policy_naming_only_other_teams_is_not_offered_to_a_developer(client, developer, tenant_b):
    create_policy(actor=None, name="bravo-only", document={"applies_to": {"tenants": ["bravo"]},
                                                           "input": [{"detector": "email", "action": "block"}]})
    client = signed_in(client, developer)

    answer = client.post(API, {"text": PROMPT, "policy": "bravo-only"}, content_type="application/json")
    page = client.get(PAGE)

    assert answer.status_code == 400
    assert b"bravo-only" not in page.content


def test_an_auditor_may_try_every_policy(client, make_user, tenant_b):
    create_policy(actor=None, name="bravo-only", document={"applies_to": {"tenants": ["bravo"]},
                                                           "input": [{"detector": "email", "action": "block"}]})
    auditor = make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR)

    answer = signed_in(client, auditor).post(API, {"text": PROMPT, "policy": "bravo-only"},
                                             content_type="application/json")

    assert answer.status_code == 200


def test_a_viewer_is_refused_and_the_refusal_audited(client, tenant_a, make_member, pii_policy):
    viewer = make_member(tenant_a, TenantRole.VIEWER)

    answer = signed_in(client, viewer).post(API, {"text": PROMPT, "policy": "pii-basic"},
                                            content_type="application/json")

    assert answer.status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=viewer,
                                     changes__attempted="guardrails.dry_run").exists()


def test_nothing_of_the_text_is_kept(client, developer, pii_policy):
    client = signed_in(client, developer)
    before = AuditEvent.objects.count()

    client.post(API, {"text": PROMPT, "policy": "pii-basic"}, content_type="application/json")

    assert AuditEvent.objects.count() == before
    assert not UsageEvent.objects.exists()
    assert not GuardDecision.objects.exists()
    assert not PayloadRecord.objects.exists()


def test_the_page_shows_pasted_markup_as_text(client, developer, pii_policy):
    page = signed_in(client, developer).post(PAGE, {"text": "<script>alert(1)</script> ann@example.com",
                                                    "policy": "pii-basic"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert '<mark class="guard-mask" title="email: mask">ann@example.com</mark>' in html


def test_the_page_posted_by_htmx_answers_the_panel_alone_with_its_errors(client, developer, pii_policy):
    page = signed_in(client, developer).post(PAGE, {"text": "a" * 200_001, "policy": "pii-basic"},
                                             HTTP_HX_REQUEST="true")

    html = page.content.decode()
    assert page.status_code == 200  # htmx swaps 2xx answers only
    assert html.lstrip().startswith('<div id="dry-run"')
    assert "at most 200000 characters" in html
