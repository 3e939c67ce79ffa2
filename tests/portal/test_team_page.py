"""One team page, /teams/<slug>/: members and invitations with applications; the portal's old address leads there."""

from __future__ import annotations

import pytest

from aiplatform.models import Invitation
from aiplatform.roles import TenantRole
from portal import services


@pytest.mark.smoke
def test_the_team_page_shows_members_and_applications(client, tenant_a, developer, app):
    client.force_login(developer)

    page = client.get(f"/teams/{tenant_a.slug}/").text

    assert "dev@example.com" in page
    assert "checkout-bot" in page
    assert 'id="members"' in page


def test_the_portal_address_redirects_to_it(client, tenant_a, developer):
    client.force_login(developer)

    response = client.get(f"/portal/teams/{tenant_a.slug}/")

    assert response.status_code == 302
    assert response["Location"] == f"/teams/{tenant_a.slug}/"


def test_admins_see_the_invitation_form_with_labels(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a, TenantRole.ADMIN))

    page = client.get(f"/teams/{tenant_a.slug}/").text

    assert '<label for="id_email">' in page
    assert "Send invitation" in page


def test_an_invalid_invitation_address_is_a_field_error_on_the_form(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a, TenantRole.ADMIN))

    response = client.post(f"/teams/{tenant_a.slug}/invite", {"email": "not-an-address", "role": "developer"})

    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"] == ["Enter a valid email address."]
    assert not Invitation.objects.exists()


def test_inviting_a_member_again_is_a_field_error_too(client, tenant_a, make_member, developer):
    client.force_login(make_member(tenant_a, TenantRole.ADMIN))

    response = client.post(f"/teams/{tenant_a.slug}/invite", {"email": "dev@example.com", "role": "developer"})

    assert response.status_code == 400
    assert response.context["invite_form"].errors["email"] == ["dev@example.com is already a member of Alpha."]


def test_a_failed_application_keeps_the_tables_counts(client, tenant_a, developer, app, approved, api_key):
    client.force_login(developer)

    response = client.post(f"/portal/teams/{tenant_a.slug}/applications", {"name": "", "environment": "dev",
                                                                    "data_classification": "internal"})

    assert response.status_code == 400
    shown = {a.name: (a.approved, a.live_keys) for a in response.context["applications"]}
    assert shown == {"checkout-bot": (1, 1)}


def test_a_failed_application_shows_every_error_at_once(client, tenant_a, developer):
    client.force_login(developer)

    response = client.post(f"/portal/teams/{tenant_a.slug}/applications", {"name": "", "environment": "moon",
                                                                    "data_classification": "secret-ish"})

    assert set(response.context["form"].errors) == {"name", "environment", "data_classification"}


def test_a_duplicate_application_name_is_a_field_error(client, tenant_a, developer, app):
    client.force_login(developer)

    response = client.post(f"/portal/teams/{tenant_a.slug}/applications", {"name": "checkout-bot", "environment": "dev",
                                                                    "data_classification": "internal"})

    assert "name" in response.context["form"].errors
    assert services.create_application  # the service, not the view, decided it
