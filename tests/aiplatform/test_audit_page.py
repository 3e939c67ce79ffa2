"""Who may read the audit trail page: platform admins and auditors everything, team admins their teams'."""

import pytest

from aiplatform.audit import record_event
from aiplatform.models import AuditEvent
from aiplatform.roles import PlatformRole, TenantRole


@pytest.mark.django_db
def test_a_developer_is_refused_and_the_refusal_audited(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a, TenantRole.DEVELOPER))
    assert client.get("/audit/").status_code == 403
    assert AuditEvent.objects.filter(action="security.permission_denied", changes={"attempted": "audit.view"}).exists()


@pytest.mark.django_db
def test_a_team_admin_sees_only_their_teams_events(client, tenant_a, tenant_b, make_member):
    record_event(action="test.alpha_event", tenant=tenant_a)
    record_event(action="test.bravo_event", tenant=tenant_b)
    client.force_login(make_member(tenant_a, TenantRole.ADMIN))
    page = client.get("/audit/?action=test.").content.decode()
    assert "test.alpha_event" in page and "test.bravo_event" not in page


@pytest.mark.django_db
def test_an_auditor_sees_every_team(client, tenant_a, tenant_b, make_user):
    record_event(action="test.alpha_event", tenant=tenant_a)
    record_event(action="test.bravo_event", tenant=tenant_b)
    client.force_login(make_user(platform_role=PlatformRole.AUDITOR))
    page = client.get("/audit/?action=test.").content.decode()
    assert "test.alpha_event" in page and "test.bravo_event" in page
