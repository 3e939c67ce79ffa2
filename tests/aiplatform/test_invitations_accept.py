"""Accepting an invitation while signed in: the invited person joins; anyone else is refused."""

import pytest

from aiplatform import services
from aiplatform.models import AuditEvent, Membership
from aiplatform.roles import TenantRole


@pytest.fixture
def invitation_link(tenant_a):
    _, token = services.invite_member(actor=None, tenant=tenant_a, email="vera@example.com", role=TenantRole.VIEWER)
    return f"/invitations/{token}/"


@pytest.mark.smoke
def test_the_invited_user_joins_the_team_with_the_invited_role(client, make_user, tenant_a, invitation_link):
    vera = make_user("vera@example.com")
    client.force_login(vera)

    response = client.post(invitation_link, follow=True)

    assert response.redirect_chain[-1][0] == "/teams/alpha/"
    assert "You joined Alpha." in response.text
    assert Membership.objects.get(user=vera, tenant=tenant_a).role == TenantRole.VIEWER
    assert AuditEvent.objects.filter(action="invitation.accept", actor=vera).exists()


@pytest.mark.smoke
def test_another_signed_in_user_gets_a_clear_error_and_the_attempt_is_audited(
    client, make_user, tenant_a, invitation_link
):
    mallory = make_user("mallory@example.com")
    client.force_login(mallory)

    response = client.post(invitation_link, follow=True)

    assert "This invitation was sent to another e-mail address." in response.text
    assert not Membership.objects.filter(user=mallory, tenant=tenant_a).exists()
    event = AuditEvent.objects.get(action="security.invitation_mismatch")
    assert event.actor == mallory
    assert event.changes == {"invited": "vera@example.com"}


def test_a_used_invitation_link_no_longer_works(client, make_user, invitation_link):
    client.force_login(make_user("vera@example.com"))
    client.post(invitation_link)

    response = client.get(invitation_link)

    assert response.status_code == 404
    assert AuditEvent.objects.filter(action="security.invitation_invalid").exists()
