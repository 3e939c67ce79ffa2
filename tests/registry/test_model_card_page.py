"""The model card page: what a model is for, its terms and scores; deprecated models warn."""

from __future__ import annotations

from datetime import date

import pytest

from aiplatform.models import AuditEvent
from registry import services
from registry.models import ModelCardVersion

CARD = {
    "summary": "Fast general chat.", "use_cases": ["summarization", "chat"], "limitations": "English only.",
    "failure_modes": "Invents citations.", "license": "Vendor EULA", "license_url": "https://example.com/eula",
    "license_restrictions": "No medical advice.", "data_residency": "EU", "data_retention": "30 days abuse log.",
    "evaluations": [{"name": "MMLU", "metric": "accuracy", "value": 0.71, "date": "2025-01-10"}],
}


@pytest.mark.smoke
def test_an_employee_reads_the_full_card(employee_client, make_alias):
    make_alias("fast-chat", card=CARD)

    response = employee_client.get("/models/fast-chat/")

    assert response.status_code == 200
    for text in ("Fast general chat.", "English only.", "Invents citations.", "No medical advice.", "30 days abuse log.",
                 "MMLU", "0.71", "summarization"):
        assert text.encode() in response.content
    assert b"Edit card" not in response.content


def test_a_deprecated_model_shows_a_warning_with_its_replacement(employee_client, make_alias):
    successor = make_alias("chat-2")
    old = make_alias("chat-1")
    services.update_alias(actor=None, alias=old, status="deprecated", sunset_on=date(2099, 12, 31),
                          replacement=successor)

    response = employee_client.get("/models/chat-1/")

    assert b"chat-1 is deprecated" in response.content
    assert b"2099-12-31" in response.content
    assert b'href="/models/chat-2/"' in response.content


def test_a_model_owner_edits_their_card_and_the_change_is_versioned_and_audited(client, model_owner, make_alias):
    alias = make_alias("fast-chat", card=CARD)
    alias.owners.add(model_owner)
    client.force_login(model_owner)

    response = client.post("/models/fast-chat/edit", {
        "summary": "Faster general chat.", "use_cases": "summarization, chat, code", "license": "Vendor EULA",
        "evaluations": "MMLU | accuracy | 0.73 | 2025-03-01", "note": "new eval",
    })

    assert response.status_code == 302
    alias.card.refresh_from_db()
    assert alias.card.use_cases == ["summarization", "chat", "code"]
    assert alias.card.evaluations == [{"name": "MMLU", "metric": "accuracy", "value": 0.73, "date": "2025-03-01"}]
    assert alias.card.limitations == ""  # the form is the whole card
    latest = ModelCardVersion.objects.filter(card=alias.card).first()
    assert (latest.version, latest.note, latest.created_by) == (2, "new eval", model_owner)
    event = AuditEvent.objects.filter(action="card.update").last()
    assert event.actor == model_owner and event.changes["summary"] == ["Fast general chat.", "Faster general chat."]


def test_others_cannot_edit_a_card(employee_client, client, make_user, make_alias):
    make_alias("fast-chat", card=CARD)

    assert employee_client.get("/models/fast-chat/edit").status_code == 403
    other_owner = make_user("other-owner@example.com", platform_role="model-owner")
    client.force_login(other_owner)
    assert client.post("/models/fast-chat/edit", {"summary": "Mine"}).status_code == 403


def test_an_unknown_or_draft_model_is_404_for_employees(employee_client, make_alias):
    make_alias("secret", status="draft")

    assert employee_client.get("/models/secret/").status_code == 404
    assert employee_client.get("/models/nothing/").status_code == 404
