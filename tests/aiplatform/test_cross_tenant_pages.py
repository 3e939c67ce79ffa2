"""Guessing another team's URLs: 404 (its existence is not revealed), and the probe is audited."""

import pytest

from aiplatform.models import AuditEvent, Membership
from aiplatform.roles import TenantRole


@pytest.mark.smoke
@pytest.mark.django_db
def test_member_of_a_gets_404_for_team_b_and_the_probe_is_audited(client, tenant_a, tenant_b, make_member):
    alice = make_member(tenant_a)
    client.force_login(alice)

    response = client.get(f"/teams/{tenant_b.slug}/")

    assert response.status_code == 404
    probe = AuditEvent.objects.filter(action="security.cross_tenant_access").get()
    assert probe.actor == alice and probe.tenant_id == tenant_b.pk


@pytest.mark.django_db
def test_a_404_for_a_team_that_does_not_exist_is_not_a_probe(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a))
    assert client.get("/teams/no-such-team/").status_code == 404
    assert not AuditEvent.objects.filter(action="security.cross_tenant_access").exists()


@pytest.mark.django_db
def test_admin_of_a_cannot_change_a_membership_of_b_by_id(client, tenant_a, tenant_b, make_member):
    admin_a = make_member(tenant_a, TenantRole.ADMIN)
    bob = make_member(tenant_b, TenantRole.VIEWER)
    membership_b = Membership.objects.get(user=bob)
    client.force_login(admin_a)

    # Right slug of A, id of B's membership; and B's slug outright.
    assert client.post(f"/teams/{tenant_a.slug}/members/{membership_b.pk}/role", {"role": "owner"}).status_code == 404
    assert client.post(f"/teams/{tenant_b.slug}/members/{membership_b.pk}/role", {"role": "owner"}).status_code == 404

    membership_b.refresh_from_db()
    assert membership_b.role == TenantRole.VIEWER


@pytest.mark.django_db
def test_team_page_lists_members_for_a_member(client, tenant_a, make_member):
    alice = make_member(tenant_a, TenantRole.VIEWER, email="alice@example.com")
    make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")
    client.force_login(alice)

    page = client.get(f"/teams/{tenant_a.slug}/").content.decode()

    assert "alice@example.com" in page and "dev@example.com" in page
    assert "Send invitation" not in page  # viewers do not manage members


@pytest.mark.django_db
def test_home_lists_only_my_teams(client, tenant_a, tenant_b, make_member):
    client.force_login(make_member(tenant_a))
    page = client.get("/").content.decode()
    assert "Alpha" in page and "Bravo" not in page


@pytest.mark.django_db
def test_home_without_a_team_says_what_to_do(client, make_user):
    client.force_login(make_user())
    assert "Ask a team admin to invite you" in client.get("/").content.decode()
