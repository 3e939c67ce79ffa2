"""Platform admins create a team in the portal and name its owner; everyone else is refused."""

from __future__ import annotations

import pytest

from aiplatform.models import AuditEvent, Membership, Tenant
from aiplatform.roles import PlatformRole, TenantRole


@pytest.fixture
def admin(make_user, settings):
    settings.REQUIRE_ADMIN_MFA = False
    return make_user("root@example.com", platform_role=PlatformRole.PLATFORM_ADMIN)


@pytest.mark.smoke
def test_an_admin_creates_a_team_owned_by_someone_else(client, admin, make_user):
    owner = make_user("lead@example.com")
    client.force_login(admin)

    response = client.post("/teams/new/", {"name": "Search", "slug": "search", "region": "eu",
                                           "cost_centre": "CC-7", "owner": "Lead@example.com"})

    assert response.status_code == 302
    assert response["Location"] == "/teams/search/"
    tenant = Tenant.objects.get(slug="search")
    assert Membership.objects.get(tenant=tenant).user == owner
    assert Membership.objects.get(tenant=tenant).role == TenantRole.OWNER
    assert AuditEvent.objects.filter(action="tenant.create", actor=admin).exists()


def test_without_an_owner_the_admin_owns_it(client, admin):
    client.force_login(admin)

    client.post("/teams/new/", {"name": "Search", "slug": "search", "region": "global"})

    assert Membership.objects.get(tenant__slug="search").user == admin


def test_an_unknown_owner_is_a_field_error(client, admin):
    client.force_login(admin)

    response = client.post("/teams/new/", {"name": "Search", "slug": "search", "region": "global",
                                           "owner": "nobody@example.com"})

    assert response.status_code == 400
    assert "owner" in response.context["form"].errors
    assert not Tenant.objects.filter(slug="search").exists()


def test_a_taken_slug_is_a_field_error(client, admin, tenant_a):
    client.force_login(admin)

    response = client.post("/teams/new/", {"name": "Again", "slug": tenant_a.slug, "region": "global"})

    assert response.status_code == 400
    assert "slug" in response.context["form"].errors


def test_every_error_is_shown_at_once(client, admin):
    client.force_login(admin)

    response = client.post("/teams/new/", {"name": "", "slug": "not a slug", "region": "mars", "owner": "x"})

    assert set(response.context["form"].errors) == {"name", "slug", "region", "owner"}


def test_others_are_refused_and_the_refusal_is_audited(client, tenant_a, make_member):
    owner = make_member(tenant_a, TenantRole.OWNER)
    client.force_login(owner)

    assert client.get("/teams/new/").status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=owner).exists()
