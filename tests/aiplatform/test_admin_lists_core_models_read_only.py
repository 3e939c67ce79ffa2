"""The Django admin lists the core models to platform admins, read-only: changes go through the services."""

from __future__ import annotations

import pytest

from aiplatform.roles import PlatformRole

LISTED = ["aiplatform/user", "aiplatform/tenant", "aiplatform/membership", "aiplatform/auditevent",
          "portal/application", "portal/subscription", "portal/apikey", "portal/usageevent"]


@pytest.fixture
def admin_client(client, make_user, settings):
    settings.REQUIRE_ADMIN_MFA = False
    client.force_login(make_user("root@example.com", platform_role=PlatformRole.PLATFORM_ADMIN))
    return client


@pytest.mark.smoke
def test_a_platform_admin_sees_users_teams_keys_audit_and_usage(admin_client):
    index = admin_client.get("/admin/").text

    for model in LISTED:
        assert f'href="/admin/{model}/"' in index


@pytest.mark.parametrize("model", LISTED)
def test_each_list_opens_and_nothing_can_be_added(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200
    assert admin_client.get(f"/admin/{model}/add/").status_code == 403


def test_a_user_cannot_be_changed_or_deleted_here(admin_client, make_user):
    other = make_user("someone@example.com")

    page = admin_client.get(f"/admin/aiplatform/user/{other.pk}/change/")
    refused = admin_client.post(f"/admin/aiplatform/user/{other.pk}/change/", {"email": "evil@example.com"})
    deleted = admin_client.post(f"/admin/aiplatform/user/{other.pk}/delete/", {"post": "yes"})

    assert page.status_code == 200
    assert "pbkdf2" not in page.text and "argon2" not in page.text  # never the password hash
    assert refused.status_code == 403
    assert deleted.status_code == 403
    other.refresh_from_db()
    assert other.email == "someone@example.com"


def test_people_who_are_not_platform_admins_are_sent_to_sign_in(client, make_user):
    client.force_login(make_user())

    assert client.get("/admin/").status_code == 302
