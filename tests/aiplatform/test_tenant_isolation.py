"""A member of tenant A never sees or changes tenant B's objects — for every tenant-owned model.

The model list is discovered, not written down: a model added by a later issue with a
``tenant`` (or a ``tenant_path``) is checked here without anyone having to remember it.
"""

from __future__ import annotations

import pytest
from django.apps import apps
from model_bakery import baker

from aiplatform.models import AuditEvent, Tenant, TenantScopedQuerySet
from aiplatform.roles import PlatformRole
from portal.models import LimitSettings

# Read through their own selector (tested in test_audit_visibility), not through for_user.
NOT_SCOPED_BY_QUERYSET = {AuditEvent}
# Its ``tenant`` is not its owner but the team whose caps it holds (null for a key's, an application's ...
# limits); it is only ever read through the key, subscription, application, team or alias it belongs to.
NOT_SCOPED_BY_QUERYSET.add(LimitSettings)


def tenant_owned_models():
    found = []
    for model in apps.get_models():
        if model in NOT_SCOPED_BY_QUERYSET or model is Tenant:
            continue
        has_tenant_fk = any(f.name == "tenant" and f.is_relation for f in model._meta.get_fields())
        if has_tenant_fk or hasattr(model, "tenant_path"):
            found.append(model)
    return found


def make_in(model, tenant: Tenant):
    path = getattr(model, "tenant_path", "tenant")
    return baker.make(model, **{path: tenant})


@pytest.mark.parametrize("model", tenant_owned_models(), ids=lambda m: m._meta.label)
def test_default_manager_is_tenant_scoped(model):
    assert isinstance(model._default_manager.all(), TenantScopedQuerySet), (
        f"{model._meta.label} belongs to a tenant: give it TenantScopedQuerySet (inherit TenantOwned)"
    )


@pytest.mark.django_db
@pytest.mark.parametrize("model", tenant_owned_models(), ids=lambda m: m._meta.label)
def test_member_of_a_sees_only_a(model, tenant_a, tenant_b, make_member):
    alice = make_member(tenant_a)
    mine, theirs = make_in(model, tenant_a), make_in(model, tenant_b)

    visible = model._default_manager.for_user(alice)

    assert visible.filter(pk=mine.pk).exists()
    assert not visible.filter(pk=theirs.pk).exists()


@pytest.mark.smoke
@pytest.mark.django_db
def test_tenants_themselves_are_scoped(tenant_a, tenant_b, make_member):
    alice = make_member(tenant_a)
    assert list(Tenant.objects.for_user(alice)) == [tenant_a]


@pytest.mark.django_db
def test_platform_admin_and_auditor_see_every_tenant(tenant_a, tenant_b, make_user):
    admin = make_user(platform_role=PlatformRole.PLATFORM_ADMIN)
    auditor = make_user(platform_role=PlatformRole.AUDITOR)
    assert set(Tenant.objects.for_user(admin)) == {tenant_a, tenant_b}
    assert set(Tenant.objects.for_user(auditor)) == {tenant_a, tenant_b}


@pytest.mark.django_db
def test_a_model_owner_sees_no_tenant_without_membership(tenant_a, make_user):
    owner = make_user(platform_role=PlatformRole.MODEL_OWNER)
    assert not Tenant.objects.for_user(owner).exists()


@pytest.mark.django_db
def test_inactive_user_sees_nothing(tenant_a, make_member):
    alice = make_member(tenant_a)
    alice.is_active = False
    alice.save()
    assert not Tenant.objects.for_user(alice).exists()
