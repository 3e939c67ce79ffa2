"""The REST API end to end: register, request, approve (as an approver), key, rotate, revoke."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from portal.models.keys import hash_secret
from portal.selectors import gateway_key_table


def post(client, url: str, data: dict, auth: dict):
    return client.post(url, data, content_type="application/json", **auth)


@pytest.mark.smoke
def test_request_approve_key_rotate_revoke(client, developer, model_owner, alias, token_for):
    dev, owner = token_for(developer), token_for(model_owner)

    app = post(client, "/api/applications/", {"name": "checkout-bot", "environment": "prod",
                                               "data_classification": "confidential"}, dev)
    assert app.status_code == 201 and app.json()["tenant"] == "alpha"
    sub = post(client, "/api/subscriptions/", {"application": app.json()["id"], "alias": "fast-chat",
                                               "use_case": "Answer customers", "justification": "Cheap"}, dev)
    assert sub.status_code == 201 and sub.json()["status"] == "pending"
    sub_id = sub.json()["id"]

    queue = client.get("/api/subscriptions/queue/", **owner).json()["results"]
    assert [(q["id"], q["requested_by"], q["use_case"], q["data_classification"]) for q in queue] == [
        (sub_id, "dev@example.com", "Answer customers", "confidential")]
    assert post(client, f"/api/subscriptions/{sub_id}/approve/", {}, dev).status_code == 403  # not an approver
    approved = post(client, f"/api/subscriptions/{sub_id}/approve/", {"comment": "ok"}, owner)
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    again = post(client, f"/api/subscriptions/{sub_id}/approve/", {}, owner)
    assert again.status_code == 409 and "already approved" in again.json()["detail"]

    key = post(client, "/api/keys/", {"application": app.json()["id"], "ip_allowlist": ["10.0.0.0/8"]}, dev)
    assert key.status_code == 201
    secret = key.json()["key"]
    assert gateway_key_table()[hash_secret(secret)].aliases == {"fast-chat"}

    rotated = post(client, f"/api/keys/{key.json()['id']}/rotate/", {"overlap_hours": 1}, dev)
    assert rotated.status_code == 201 and rotated.json()["key"] != secret
    assert client.get(f"/api/keys/{key.json()['id']}/", **dev).json()["state"] == "rotating"

    revoked = post(client, f"/api/keys/{rotated.json()['id']}/revoke/", {"reason": "done"}, dev)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert gateway_key_table()[hash_secret(rotated.json()["key"])].revoked
    assert AuditEvent.objects.filter(action="api_key.revoke", actor=developer).exists()


def test_rejecting_without_a_comment_is_a_400(client, pending, model_owner, token_for):
    response = post(client, f"/api/subscriptions/{pending.pk}/reject/", {}, token_for(model_owner))

    assert response.status_code == 400 and "Say why" in str(response.json())


def test_the_ip_allow_list_is_changed_with_patch(client, api_key, developer, token_for):
    response = client.patch(f"/api/keys/{api_key.pk}/", {"ip_allowlist": ["192.168.1.0/24"]},
                            content_type="application/json", **token_for(developer))
    bad = client.patch(f"/api/keys/{api_key.pk}/", {"ip_allowlist": ["nonsense"]}, content_type="application/json",
                       **token_for(developer))

    assert response.status_code == 200 and response.json()["ip_allowlist"] == ["192.168.1.0/24"]
    assert bad.status_code == 400 and "nonsense" in str(bad.json())


def test_session_authentication_works_for_the_browser(client, app, developer):
    client.force_login(developer)

    assert client.get("/api/applications/").json()["results"][0]["name"] == "checkout-bot"


def test_the_schema_documents_the_portal_api(client, developer):
    client.force_login(developer)

    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    for path in ("/api/applications/", "/api/subscriptions/{id}/approve/", "/api/keys/{id}/rotate/",
                 "/api/keys/{id}/revoke/", "/api/hosting-requests/{id}/approve/"):
        assert path in schema["paths"]
    assert "personalAccessToken" in schema["components"]["securitySchemes"]
