"""Through the REST API, a member of team A finds none of team B's objects: 404, and the probe is audited."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent
from portal import services


@pytest.fixture
def theirs(tenant_b, make_member, alias, model_owner):
    bob = make_member(tenant_b, email="bob@example.com")
    app = services.create_application(actor=bob, tenant=tenant_b, name="bravo-bot")
    sub = services.request_subscription(actor=bob, application=app, alias=alias, use_case="Theirs")
    services.approve_subscription(actor=model_owner, subscription=sub)
    key, _ = services.create_api_key(actor=bob, application=app)
    hosting = services.request_hosting(actor=bob, tenant=tenant_b, alias=alias, expected_requests_per_minute=10,
                                       business_case="Theirs")
    return {"applications": app, "subscriptions": sub, "keys": key, "hosting-requests": hosting}


@pytest.mark.smoke
@pytest.mark.parametrize("resource", ["applications", "subscriptions", "keys", "hosting-requests"])
def test_reading_another_teams_object_is_a_404(resource, theirs, client, developer, token_for):
    response = client.get(f"/api/{resource}/{theirs[resource].pk}/", **token_for(developer))

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="security.cross_tenant_access", actor=developer).exists()


@pytest.mark.parametrize(("resource", "verb"), [("keys", "revoke"), ("keys", "rotate"), ("subscriptions", "cancel"),
                                               ("subscriptions", "approve"), ("hosting-requests", "cancel")])
def test_acting_on_another_teams_object_is_a_404(resource, verb, theirs, client, developer, token_for):
    url = f"/api/{resource}/{theirs[resource].pk}/{verb}/"

    assert client.post(url, {}, content_type="application/json", **token_for(developer)).status_code == 404
    theirs["keys"].refresh_from_db()
    assert theirs["keys"].revoked_at is None


def test_listings_hold_only_my_teams_objects(theirs, app, client, developer, token_for):
    auth = token_for(developer)
    for resource in ("applications", "subscriptions", "keys", "hosting-requests"):
        ids = [row["id"] for row in client.get(f"/api/{resource}/", **auth).json()["results"]]
        assert theirs[resource].pk not in ids


def test_another_teams_application_cannot_be_named_in_a_request(theirs, alias, client, developer, token_for):
    response = client.post("/api/keys/", {"application": theirs["applications"].pk}, content_type="application/json",
                           **token_for(developer))

    assert response.status_code == 400 and "application" in response.json()
