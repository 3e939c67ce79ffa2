"""Nobody decides their own request — not even a platform admin or the model's owner."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal import services
from portal.models import SubscriptionStatus


@pytest.mark.smoke
def test_an_admin_cannot_approve_their_own_request(tenant_a, platform_admin, alias):
    from aiplatform import services as core

    core.add_member(actor=None, tenant=tenant_a, user=platform_admin, role=TenantRole.DEVELOPER)
    app = services.create_application(actor=platform_admin, tenant=tenant_a, name="admin-tool")
    mine = services.request_subscription(actor=platform_admin, application=app, alias=alias, use_case="Mine")

    with pytest.raises(PermissionDenied, match="your own request"):
        services.approve_subscription(actor=platform_admin, subscription=mine)

    mine.refresh_from_db()
    assert mine.status == SubscriptionStatus.PENDING
    assert AuditEvent.objects.filter(action="security.self_approval_refused", actor=platform_admin).exists()


def test_a_model_owner_cannot_approve_their_own_request(tenant_a, model_owner, alias):
    from aiplatform import services as core

    core.add_member(actor=None, tenant=tenant_a, user=model_owner, role=TenantRole.DEVELOPER)
    app = services.create_application(actor=model_owner, tenant=tenant_a, name="owner-tool")
    mine = services.request_subscription(actor=model_owner, application=app, alias=alias, use_case="Mine")

    with pytest.raises(PermissionDenied, match="your own request"):
        services.reject_subscription(actor=model_owner, subscription=mine, comment="hm")
