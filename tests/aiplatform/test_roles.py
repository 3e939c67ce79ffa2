"""Role checks: one function answers "may this user do X", the services obey it."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aiplatform import services
from aiplatform.models import AuditEvent, Membership
from aiplatform.permissions import can
from aiplatform.roles import PlatformRole, TenantRole

MATRIX = [
    # action, role, allowed
    ("tenant.view", TenantRole.VIEWER, True),
    ("tenant.update", TenantRole.DEVELOPER, False),
    ("tenant.update", TenantRole.ADMIN, True),
    ("tenant.manage_members", TenantRole.DEVELOPER, False),
    ("tenant.manage_members", TenantRole.ADMIN, True),
    ("tenant.delete", TenantRole.ADMIN, False),
    ("tenant.delete", TenantRole.OWNER, True),
    ("audit.view", TenantRole.DEVELOPER, False),
    ("audit.view", TenantRole.ADMIN, True),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("action", "role", "allowed"), MATRIX)
def test_tenant_roles(action, role, allowed, tenant_a, make_member):
    assert can(make_member(tenant_a, role), action, tenant_a) is allowed


@pytest.mark.django_db
def test_a_role_in_one_tenant_grants_nothing_in_another(tenant_a, tenant_b, make_member):
    owner_a = make_member(tenant_a, TenantRole.OWNER)
    assert not can(owner_a, "tenant.view", tenant_b)


@pytest.mark.django_db
def test_platform_roles(tenant_a, make_user):
    admin = make_user(platform_role=PlatformRole.PLATFORM_ADMIN)
    auditor = make_user(platform_role=PlatformRole.AUDITOR)
    assert can(admin, "tenant.delete", tenant_a)
    assert can(auditor, "tenant.view", tenant_a) and can(auditor, "audit.view", tenant_a)
    assert not can(auditor, "tenant.update", tenant_a)
    assert not can(auditor, "tenant.create")


@pytest.mark.django_db
def test_anonymous_may_do_nothing(tenant_a):
    from django.contrib.auth.models import AnonymousUser

    assert not can(AnonymousUser(), "tenant.view", tenant_a)


@pytest.mark.django_db
def test_unknown_action_is_a_programming_error(tenant_a, make_member):
    with pytest.raises(KeyError):
        can(make_member(tenant_a), "tenant.teleport", tenant_a)


@pytest.mark.smoke
@pytest.mark.django_db
def test_viewer_trying_to_invite_is_refused_audited_and_nothing_written(tenant_a, make_member):
    viewer = make_member(tenant_a, TenantRole.VIEWER)
    with pytest.raises(PermissionDenied):
        services.invite_member(actor=viewer, tenant=tenant_a, email="x@example.com", role=TenantRole.DEVELOPER)
    assert not tenant_a.invitations.exists()
    refusal = AuditEvent.objects.get(action="security.permission_denied")
    assert refusal.actor == viewer and refusal.changes == {"attempted": "tenant.manage_members"}


@pytest.mark.django_db
def test_an_admin_cannot_make_an_owner(tenant_a, make_member, make_user):
    admin = make_member(tenant_a, TenantRole.ADMIN)
    with pytest.raises(PermissionDenied):
        services.add_member(actor=admin, tenant=tenant_a, user=make_user(), role=TenantRole.OWNER)


@pytest.mark.django_db
def test_the_last_owner_cannot_be_demoted_or_removed(tenant_a, make_member):
    owner = make_member(tenant_a, TenantRole.OWNER)
    membership = Membership.objects.get(user=owner)
    with pytest.raises(ValidationError):
        services.change_member_role(actor=owner, membership=membership, role=TenantRole.ADMIN)
    with pytest.raises(ValidationError):
        services.remove_member(actor=owner, membership=membership)
    membership.refresh_from_db()
    assert membership.role == TenantRole.OWNER


@pytest.mark.django_db
def test_admin_changes_a_role_and_it_is_audited(tenant_a, make_member):
    admin = make_member(tenant_a, TenantRole.ADMIN)
    dev = make_member(tenant_a, TenantRole.DEVELOPER)
    membership = Membership.objects.get(user=dev, tenant=tenant_a)

    services.change_member_role(actor=admin, membership=membership, role=TenantRole.VIEWER)

    event = AuditEvent.objects.filter(action="membership.change_role").get()
    assert event.actor == admin and event.changes["role"] == ["developer", "viewer"]


@pytest.mark.django_db
def test_viewer_posting_the_admin_form_gets_403_page(client, tenant_a, make_member):
    client.force_login(make_member(tenant_a, TenantRole.VIEWER))
    response = client.post(f"/teams/{tenant_a.slug}/invite", {"email": "x@example.com", "role": "developer"})
    assert response.status_code == 403
    assert "Your role does not allow this action" in response.content.decode()
    assert not tenant_a.invitations.exists()
