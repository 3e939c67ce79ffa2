"""Personal access tokens: automation uses the API as its person; revoked or wrong tokens get a 401."""

from __future__ import annotations

import pytest

from portal import services
from portal.models import PersonalAccessToken
from portal.models.keys import hash_secret


@pytest.mark.smoke
def test_a_token_authenticates_as_its_owner(app, client, developer):
    token, secret = services.create_personal_access_token(user=developer, name="ci")

    response = client.get("/api/applications/", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 200
    assert [a["name"] for a in response.json()["results"]] == ["checkout-bot"]
    token.refresh_from_db()
    assert token.last_used_at is not None
    assert token.token_hash == hash_secret(secret) and secret not in repr(PersonalAccessToken.objects.values())


def test_a_revoked_token_is_refused(developer, client):
    token, secret = services.create_personal_access_token(user=developer, name="ci")
    services.revoke_personal_access_token(user=developer, token=token)

    response = client.get("/api/applications/", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_and_no_credentials_are_refused(client, db):
    assert client.get("/api/keys/", HTTP_AUTHORIZATION="Bearer sbp-not-a-real-token").status_code == 401
    assert client.get("/api/keys/").status_code == 401


def test_a_token_creates_nothing_in_a_team_its_owner_is_not_in(developer, tenant_b, client):
    _, secret = services.create_personal_access_token(user=developer, name="ci")

    response = client.post("/api/applications/", {"name": "sneaky", "tenant_slug": tenant_b.slug},
                           content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 400 and "tenant_slug" in response.json()


def test_tokens_are_made_and_revoked_in_the_portal(client, developer):
    client.force_login(developer)

    page = client.post("/portal/tokens/", {"name": "ci"}, follow=True)

    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    token = PersonalAccessToken.objects.get(user=developer)
    assert token.token_prefix in page.content.decode()
    client.post(f"/portal/tokens/{token.pk}/revoke")
    token.refresh_from_db()
    assert token.revoked_at is not None
