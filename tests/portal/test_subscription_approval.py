"""The approval workflow: who may decide, every transition named and audited, and every bad move refused."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal import services
from portal.models import SubscriptionStatus


@pytest.mark.smoke
def test_a_model_owner_approves_a_request_and_the_requester_is_told(pending, model_owner, developer,
                                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.approve_subscription(actor=model_owner, subscription=pending, comment="Looks right")

    pending.refresh_from_db()
    assert pending.status == SubscriptionStatus.APPROVED
    assert pending.decided_by == model_owner and pending.decision_comment == "Looks right"
    event = AuditEvent.objects.get(action="subscription.approve")
    assert event.actor == model_owner and event.changes["status"] == ["pending", "approved"]
    assert [t.to_status for t in pending.transitions.all()] == ["pending", "approved"]
    assert mail.outbox[-1].to == [developer.email] and "approved" in mail.outbox[-1].subject
    assert developer.notifications.get().title.endswith("approved")


def test_a_platform_admin_may_reject_with_a_reason(pending, platform_admin):
    services.reject_subscription(actor=platform_admin, subscription=pending, comment="Use the cheaper model")

    pending.refresh_from_db()
    assert pending.status == SubscriptionStatus.REJECTED and pending.decided_by_label == platform_admin.email


def test_rejecting_needs_a_reason(pending, model_owner):
    with pytest.raises(ValidationError, match="Say why"):
        services.reject_subscription(actor=model_owner, subscription=pending, comment=" ")


def test_approving_twice_is_refused_with_a_clear_error(approved, model_owner):
    with pytest.raises(services.InvalidTransition, match="already approved"):
        services.approve_subscription(actor=model_owner, subscription=approved)


def test_approving_a_cancelled_request_is_refused(pending, developer, model_owner):
    services.cancel_subscription(actor=developer, subscription=pending)

    with pytest.raises(services.InvalidTransition, match="was cancelled; it can no longer be approved"):
        services.approve_subscription(actor=model_owner, subscription=pending)


def test_a_rejected_request_cannot_be_approved_later(pending, model_owner):
    services.reject_subscription(actor=model_owner, subscription=pending, comment="No")

    with pytest.raises(services.InvalidTransition, match="was rejected"):
        services.approve_subscription(actor=model_owner, subscription=pending)


def test_suspend_and_resume_an_approved_subscription(approved, model_owner):
    services.suspend_subscription(actor=model_owner, subscription=approved, comment="Cost review")
    assert approved.status == SubscriptionStatus.SUSPENDED

    with pytest.raises(services.InvalidTransition):
        services.suspend_subscription(actor=model_owner, subscription=approved, comment="again")
    services.resume_subscription(actor=model_owner, subscription=approved)
    assert approved.status == SubscriptionStatus.APPROVED


def test_a_pending_request_cannot_be_suspended_or_resumed(pending, model_owner):
    with pytest.raises(services.InvalidTransition, match="pending subscription cannot be suspended"):
        services.suspend_subscription(actor=model_owner, subscription=pending, comment="why not")
    with pytest.raises(services.InvalidTransition):
        services.resume_subscription(actor=model_owner, subscription=pending)


def test_a_cancelled_subscription_stays_cancelled(approved, developer):
    services.cancel_subscription(actor=developer, subscription=approved, comment="Project ended")

    with pytest.raises(services.InvalidTransition, match="already cancelled"):
        services.cancel_subscription(actor=developer, subscription=approved)


def test_a_second_open_request_for_the_same_model_is_refused(pending, app, alias, developer):
    with pytest.raises(ValidationError, match="already has a pending subscription"):
        services.request_subscription(actor=developer, application=app, alias=alias, use_case="again")


def test_after_a_rejection_the_team_may_ask_again(pending, app, alias, developer, model_owner):
    services.reject_subscription(actor=model_owner, subscription=pending, comment="Explain the use case")

    again = services.request_subscription(actor=developer, application=app, alias=alias, use_case="Better reason")

    assert again.status == SubscriptionStatus.PENDING


def test_an_owner_of_another_model_cannot_decide(pending, make_user, make_alias):
    from aiplatform.roles import PlatformRole

    other_owner = make_user(platform_role=PlatformRole.MODEL_OWNER)
    make_alias("other-model", owners=[other_owner])

    with pytest.raises(PermissionDenied):
        services.approve_subscription(actor=other_owner, subscription=pending)
    assert AuditEvent.objects.filter(action="security.permission_denied", actor=other_owner).exists()


def test_a_team_member_cannot_decide(pending, tenant_a, make_member):
    admin_of_team = make_member(tenant_a, TenantRole.OWNER)

    with pytest.raises(PermissionDenied):
        services.approve_subscription(actor=admin_of_team, subscription=pending)


def test_a_viewer_cannot_request(app, alias, tenant_a, make_member):
    viewer = make_member(tenant_a, TenantRole.VIEWER)

    with pytest.raises(PermissionDenied):
        services.request_subscription(actor=viewer, application=app, alias=alias, use_case="x")


def test_a_retired_model_takes_no_new_requests(app, developer, make_alias):
    old = make_alias("old-model", status="approved")
    from registry import services as registry_services

    registry_services.update_alias(actor=None, alias=old, status="deprecated")
    registry_services.update_alias(actor=None, alias=old, status="retired")

    with pytest.raises(ValidationError, match="only approved or evaluating"):
        services.request_subscription(actor=developer, application=app, alias=old, use_case="x")


def test_owners_of_the_model_are_told_of_a_new_request(app, alias, developer, model_owner,
                                                        django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.request_subscription(actor=developer, application=app, alias=alias, use_case="Triage")

    assert model_owner.notifications.get().title == "Alpha asks for fast-chat"
    assert mail.outbox[-1].to == [model_owner.email]
