"""Each member's playground access: a personal key of the team's playground, mirroring the team's approved access."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from aiplatform.roles import TenantRole
from portal import services
from portal.models import ApiKey, Application, PlaygroundAccess, Subscription, SubscriptionStatus
from portal.models.keys import hash_secret
from portal.selectors import gateway_key_table
from portal.services import playground

pytestmark = pytest.mark.django_db


def approved_aliases(app: Application) -> set[str]:
    return set(Subscription.objects.filter(application=app, status=SubscriptionStatus.APPROVED)
               .values_list("alias__name", flat=True))


def test_first_use_makes_the_team_playground_and_a_personal_key(tenant_a, developer, approved):
    access = playground.ensure_access(user=developer, team=tenant_a)

    assert access.key.application.is_playground
    assert access.key.created_by == developer
    assert ApiKey.objects.get(pk=access.key.pk).limit_settings.plan.name == "playground"
    assert approved_aliases(access.key.application) == {"fast-chat"}


def test_the_key_secret_is_derived_never_stored_and_the_gateway_knows_it(tenant_a, developer, approved):
    access = playground.ensure_access(user=developer, team=tenant_a)
    secret = playground.key_secret(access)

    assert access.key.key_hash == hash_secret(secret)
    assert secret not in str(PlaygroundAccess.objects.filter(pk=access.pk).values().get())
    grant = gateway_key_table()[hash_secret(secret)]
    assert grant.aliases == frozenset({"fast-chat"})


def test_the_same_person_keeps_one_key_and_each_member_gets_their_own(tenant_a, developer, make_member, approved):
    again = make_member(tenant_a, TenantRole.VIEWER)

    first = playground.ensure_access(user=developer, team=tenant_a)
    assert playground.ensure_access(user=developer, team=tenant_a).key == first.key
    other = playground.ensure_access(user=again, team=tenant_a)

    assert other.key != first.key
    assert other.key.application == first.key.application
    assert Application.objects.filter(tenant=tenant_a, is_playground=True).count() == 1


def test_a_team_without_approved_access_gets_a_playground_with_no_models(tenant_a, developer, pending):
    access = playground.ensure_access(user=developer, team=tenant_a)
    assert approved_aliases(access.key.application) == set()


def test_the_playground_follows_approval_and_cancellation(tenant_a, developer, pending, model_owner,
                                                          django_capture_on_commit_callbacks):
    access = playground.ensure_access(user=developer, team=tenant_a)
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_subscription(actor=model_owner, subscription=pending, comment="ok")
    assert approved_aliases(access.key.application) == {"fast-chat"}

    with django_capture_on_commit_callbacks(execute=True):
        services.cancel_subscription(actor=developer, subscription=pending, comment="done")
    assert approved_aliases(access.key.application) == set()


def test_a_non_member_has_no_access(tenant_b, developer):
    with pytest.raises(PermissionDenied):
        playground.ensure_access(user=developer, team=tenant_b)


def test_a_revoked_playground_key_stays_revoked(tenant_a, developer, make_member, approved):
    admin = make_member(tenant_a, TenantRole.ADMIN)
    access = playground.ensure_access(user=developer, team=tenant_a)
    services.revoke_api_key(actor=admin, key=access.key, reason="misuse")

    with pytest.raises(PermissionDenied, match="revoked"):
        playground.ensure_access(user=developer, team=tenant_a)
    assert ApiKey.objects.filter(application=access.key.application).count() == 1


def test_nobody_adds_keys_or_subscriptions_to_the_playground_by_hand(tenant_a, developer, approved, alias):
    access = playground.ensure_access(user=developer, team=tenant_a)
    app = access.key.application

    with pytest.raises(ValidationError, match="personal and managed"):
        services.create_api_key(actor=developer, application=app)
    with pytest.raises(ValidationError, match="managed"):
        services.rotate_api_key(actor=developer, key=access.key)
    with pytest.raises(ValidationError, match="follows the team"):
        services.request_subscription(actor=developer, application=app, alias=alias, use_case="x")
