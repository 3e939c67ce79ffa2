"""Platform admins edit guardrail policies in the registry's pages; auditors read them; nobody else does."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole
from registry.models import Policy
from registry.services_policies import create_policy

DOCUMENT = """applies_to: {aliases: [chat-default]}
input:
  - {detector: email, action: mask}
  - {detector: payment_card, action: block}
unmask_output: true
"""


@pytest.fixture
def chat_default(make_alias):
    return make_alias("chat-default")


def test_an_admin_writes_a_policy_then_changes_it_and_sees_both_versions(admin_client, chat_default):
    response = admin_client.post("/models/manage/policies/new", {
        "name": "pii-basic", "description": "Mask e-mail, block cards", "document": DOCUMENT})
    assert response.status_code == 302 and response["location"] == "/models/manage/policies/pii-basic/"
    listing = admin_client.get("/models/manage/policies/").content.decode()
    assert "pii-basic" in listing and "email mask, payment_card block" in listing and "aliases chat-default" in listing

    changed = DOCUMENT.replace("payment_card, action: block", "payment_card, action: mask")
    assert admin_client.post("/models/manage/policies/pii-basic/edit", {
        "description": "Mask e-mail and cards", "document": changed}).status_code == 302

    policy = Policy.objects.get(name="pii-basic")
    assert policy.version == 2 and policy.description == "Mask e-mail and cards"
    page = admin_client.get("/models/manage/policies/pii-basic/").content.decode()
    assert "v1" in page and "v2" in page
    assert "-  action: block\n" in page and "+  action: mask\n" in page  # the diff between the versions
    assert list(AuditEvent.objects.filter(action__startswith="policy.").values_list("action", flat=True)
                .order_by("pk")) == ["policy.create", "policy.update"]


def test_a_wrong_document_is_shown_back_with_every_problem_by_its_path(admin_client, chat_default):
    response = admin_client.post("/models/manage/policies/new", {
        "name": "bad", "document": "input:\n  - {detector: telepathy, action: block}\n"
                                   "  - {detector: email, action: explode}\napplies_to: {aliases: [nope]}\n"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "input[0].detector" in page and "telepathy" in page
    assert "input[1].action" in page
    assert not Policy.objects.exists()

    not_yaml = admin_client.post("/models/manage/policies/new", {"name": "bad", "document": "input: [unclosed"})
    assert "line" in not_yaml.content.decode() and not Policy.objects.exists()


def test_disable_enable_and_delete_are_audited(admin_client, chat_default):
    create_policy(actor=None, name="pii-basic", document={"input": [{"detector": "email", "action": "mask"}]})
    admin_client.post("/models/manage/policies/pii-basic/enable", {"enabled": "false"})
    assert not Policy.objects.get(name="pii-basic").enabled
    admin_client.post("/models/manage/policies/pii-basic/enable", {"enabled": "true"})
    assert Policy.objects.get(name="pii-basic").enabled
    admin_client.post("/models/manage/policies/pii-basic/delete")
    assert not Policy.objects.exists()
    assert list(AuditEvent.objects.filter(action__startswith="policy.").values_list("action", flat=True)
                .order_by("pk")) == ["policy.create", "policy.disable", "policy.enable", "policy.delete"]


def test_an_auditor_reads_but_cannot_edit_and_a_member_sees_nothing(client, make_user):
    create_policy(actor=None, name="pii-basic", description="<script>alert(1)</script>",
                  document={"input": [{"detector": "email", "action": "mask"}]})
    client.force_login(make_user("auditor@example.com", platform_role=PlatformRole.AUDITOR))
    listing = client.get("/models/manage/policies/")
    assert listing.status_code == 200
    assert "<script>alert(1)</script>" not in listing.content.decode()  # escaped
    assert "New policy" not in listing.content.decode()
    assert client.get("/models/manage/policies/pii-basic/").status_code == 200
    assert client.get("/models/manage/policies/new").status_code == 403
    assert client.post("/models/manage/policies/pii-basic/delete").status_code == 403
    assert Policy.objects.exists()

    client.force_login(make_user("someone@example.com"))
    assert client.get("/models/manage/policies/").status_code == 403
    assert client.get("/models/manage/policies/pii-basic/").status_code == 403


def test_the_list_says_which_detectors_can_run_here(admin_client):
    page = admin_client.get("/models/manage/policies/").content.decode()
    assert "payment_card" in page and "presidio_analyzer" in page  # names and addresses need Presidio
