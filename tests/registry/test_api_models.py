"""The REST API: employees list and read aliases and cards; admins manage; owners edit their cards."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from registry.models import ModelAlias


@pytest.mark.smoke
def test_an_employee_lists_and_reads_models(employee_client, make_alias):
    make_alias("fast-chat", card={"summary": "Quick.", "use_cases": ["summarization"]})
    make_alias("secret-draft", status="draft")

    listing = employee_client.get("/api/models/")
    detail = employee_client.get("/api/models/fast-chat/")
    card = employee_client.get("/api/models/fast-chat/card/")

    assert listing.status_code == 200
    assert [m["name"] for m in listing.json()["results"]] == ["fast-chat"]
    assert detail.json()["routes"][0]["upstream_model"] == "fast-chat-upstream"
    assert detail.json()["capabilities"] == ["chat", "streaming"]
    assert card.json()["summary"] == "Quick." and card.json()["version"] == 1
    assert employee_client.get("/api/models/secret-draft/").status_code == 404


def test_signed_out_callers_get_nothing(client, make_alias):
    make_alias("fast-chat")

    # 401 with a Bearer challenge, as on the portal's API: the same authenticators answer both.
    assert client.get("/api/models/").status_code == 401


def test_an_employee_cannot_manage(employee_client, make_alias):
    make_alias("fast-chat")

    assert employee_client.post("/api/models/", {"name": "mine"}, content_type="application/json").status_code == 403
    assert employee_client.patch("/api/models/fast-chat/", {"status": "deprecated"},
                                 content_type="application/json").status_code == 403
    assert employee_client.get("/api/providers/").status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied").count() == 3


def test_an_admin_creates_an_alias_with_routes(admin_client, make_endpoint):
    endpoint = make_endpoint()

    response = admin_client.post("/api/models/", {
        "name": "chat-default", "status": "approved", "routes": [{"endpoint": endpoint.pk, "weight": 50}],
    }, content_type="application/json")

    assert response.status_code == 201, response.json()
    assert response.json()["routes"][0]["weight"] == 50
    alias = ModelAlias.objects.get(name="chat-default")
    assert alias.approved_on is not None
    assert AuditEvent.objects.filter(action="alias.create", target_label="chat-default").exists()


def test_a_bad_lifecycle_move_is_a_400(admin_client, make_alias):
    make_alias("old", status="retired")

    response = admin_client.patch("/api/models/old/", {"status": "approved"}, content_type="application/json")

    assert response.status_code == 400
    assert "status" in response.json()


def test_a_model_owner_edits_only_the_cards_of_their_aliases(client, model_owner, make_alias):
    mine = make_alias("mine")
    mine.owners.add(model_owner)
    make_alias("theirs")
    client.force_login(model_owner)

    ok = client.patch("/api/models/mine/card/", {
        "summary": "Better.", "note": "clarify",
        "evaluations": [{"name": "MMLU", "metric": "accuracy", "value": 0.81, "date": "2025-02-01"}],
    }, content_type="application/json")
    refused = client.patch("/api/models/theirs/card/", {"summary": "Mine now."}, content_type="application/json")
    history = client.get("/api/models/mine/card/versions/")

    assert ok.status_code == 200, ok.json()
    assert ok.json()["evaluations"] == [{"name": "MMLU", "metric": "accuracy", "value": 0.81, "date": "2025-02-01"}]
    assert refused.status_code == 403
    assert [v["note"] for v in history.json()] == ["clarify"]
    assert history.json()[0]["created_by"] == "owner@example.com"


def test_the_schema_lists_the_registry_api(employee_client):
    schema = employee_client.get("/api/schema/", headers={"accept": "application/json"})

    assert schema.status_code == 200
    assert "/api/models/{name}/card/" in schema.json()["paths"]
