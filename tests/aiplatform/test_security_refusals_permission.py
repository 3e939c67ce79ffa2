"""A viewer trying an admin action is refused with 403, audited, and nothing is written."""

import pytest

from aiplatform.models import AuditEvent, Invitation
from aiplatform.roles import TenantRole


@pytest.mark.smoke
def test_a_viewer_cannot_invite_members(client, tenant_a, make_member):
    viewer = make_member(tenant_a, role=TenantRole.VIEWER)
    client.force_login(viewer)
    invitations_before = Invitation.objects.count()

    response = client.post("/teams/alpha/invite", {"email": "eve@example.com", "role": TenantRole.DEVELOPER})

    assert response.status_code == 403
    assert "You may not do that" in response.text
    assert Invitation.objects.count() == invitations_before
    event = AuditEvent.objects.get(action="security.permission_denied")
    assert event.actor == viewer
    assert event.tenant_id == tenant_a.pk
    assert event.changes == {"attempted": "tenant.manage_members"}
    assert not AuditEvent.objects.filter(action="invitation.create").exists()


def test_an_admin_may_invite_members(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a, role=TenantRole.ADMIN))

    response = client.post(
        "/teams/alpha/invite", {"email": "eve@example.com", "role": TenantRole.DEVELOPER}, follow=True
    )

    assert "Invitation sent to eve@example.com." in response.text
    assert Invitation.objects.filter(tenant=tenant_a, email="eve@example.com").exists()
