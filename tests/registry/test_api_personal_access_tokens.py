"""The registry API accepts personal access tokens, as the portal API does (issue 19.10)."""

from __future__ import annotations

import pytest

from portal import services as portal_services


@pytest.fixture
def admin_token(platform_admin) -> dict[str, str]:
    _, secret = portal_services.create_personal_access_token(user=platform_admin, name="automation")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.mark.parametrize("path", ["/api/models/", "/api/providers/", "/api/endpoints/"])
def test_an_admins_token_reads_the_registry(client, admin_token, make_alias, path):
    make_alias("fast-chat")

    response = client.get(path, **admin_token)

    assert response.status_code == 200


def test_an_unknown_token_is_refused(db, client):
    response = client.get("/api/models/", HTTP_AUTHORIZATION="Bearer sbp-not-a-token")

    assert response.status_code == 401
    assert "personal access token" in response.json()["detail"]
