"""Subscriptions and their approval workflow, and the auto-approval rules."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aiplatform import config_version
from aiplatform.audit import POLICY, SYSTEM, record_event
from aiplatform.models import User
from portal.models import Application, AutoApprovalRule, Subscription, SubscriptionStatus, SubscriptionTransition
from portal.models.subscriptions import OPEN_STATUSES
from portal.notifications import notify
from portal.selectors import approvers_of
from portal.services.playground import sync_after_transition
from portal.services.transitions import (
    InvalidTransition,
    actor_label,
    check_permission,
    clean_reason,
    refuse_own_request,
)
from registry.models import AliasStatus, ModelAlias

S = SubscriptionStatus
# verb → (statuses it may start from, status it leads to)
TRANSITIONS: dict[str, tuple[frozenset[str], str]] = {
    "approve": (frozenset({S.PENDING}), S.APPROVED),
    "reject": (frozenset({S.PENDING}), S.REJECTED),
    "suspend": (frozenset({S.APPROVED}), S.SUSPENDED),
    "resume": (frozenset({S.SUSPENDED}), S.APPROVED),
    "cancel": (frozenset({S.PENDING, S.APPROVED, S.SUSPENDED}), S.CANCELLED),
}
PAST = {"approve": "approved", "reject": "rejected", "suspend": "suspended", "resume": "resumed",
        "cancel": "cancelled"}
REQUESTABLE = (AliasStatus.EVALUATING, AliasStatus.APPROVED)


def _refusal_message(verb: str, status: str) -> str:
    if status == TRANSITIONS[verb][1] and verb != "resume":
        return f"This subscription is already {status}."
    if status in (S.CANCELLED, S.REJECTED):
        return (f"This subscription was {status}; it can no longer be {PAST[verb]}. "
                "Ask for access again with a new request.")
    if verb == "resume" and status == S.APPROVED:
        return "This subscription is not suspended; it is already approved."
    return f"A {status} subscription cannot be {PAST[verb]}."


def _link(subscription: Subscription) -> str:
    return reverse("portal:application", args=[subscription.application_id])


def _move(subscription: Subscription, verb: str, *, actor: User | None, label: str, reason: str) -> Subscription:
    """Lock, check and apply one transition; record it, audit it, tell the requester. Inside a transaction."""
    sub = Subscription.objects.select_for_update(of=("self",)).select_related("application", "alias", "requested_by").get(
        pk=subscription.pk)
    allowed_from, to = TRANSITIONS[verb]
    if sub.status not in allowed_from:
        raise InvalidTransition(_refusal_message(verb, sub.status), code=f"cannot_{verb}")
    before = sub.status
    sub.status = to
    if verb in ("approve", "reject"):
        sub.decided_by, sub.decided_by_label, sub.decided_at, sub.decision_comment = actor, label, timezone.now(), reason
    sub.save()
    SubscriptionTransition.objects.create(tenant_id=sub.tenant_id, subscription=sub, from_status=before, to_status=to,
                                          actor=actor, actor_label=label, reason=reason)
    record_event(action=f"subscription.{verb}", actor=actor, actor_label=label, target=sub,
                 changes={"status": [before, to], "reason": reason, "alias": sub.alias.name,
                          "application": sub.application.name})
    config_version.bump("keys")
    if not sub.application.is_playground:  # the team's access changed: its playground follows
        tenant_id = sub.tenant_id
        transaction.on_commit(lambda: sync_after_transition(tenant_id=tenant_id))
    by = "the approval policy" if label == POLICY else label
    notify(user=sub.requested_by,
           title=f"{sub.application.name}: access to {sub.alias.name} {PAST[verb]}",
           body=f"{by} {PAST[verb]} the subscription of {sub.application.name} to {sub.alias.name}."
                + (f"\nWhy: {reason}" if reason else ""),
           link=_link(sub), about={"subscription": sub.pk})
    for field in Subscription._meta.concrete_fields:  # the caller's instance shows the new state too
        setattr(subscription, field.attname, getattr(sub, field.attname))
    return sub


def matching_rule(application: Application, alias: ModelAlias) -> AutoApprovalRule | None:
    """The first active auto-approval rule that covers this application's request for ``alias``."""
    for rule in AutoApprovalRule.objects.filter(alias=alias, is_active=True).select_related("alias").order_by("pk"):
        if rule.matches(application):
            return rule
    return None


def request_subscription(
    *, actor: User | None, application: Application, alias: ModelAlias, use_case: str, justification: str = ""
) -> Subscription:
    """Ask for access to ``alias``. Approved at once (by "policy") when an auto-approval rule matches;
    otherwise pending, and its approvers are told (in the portal and by e-mail, once the request is committed):
    the alias's model owners, or the platform admins when it has none."""
    check_permission(actor, "subscription.request", application)
    if application.is_playground:
        raise ValidationError({"alias": "The playground follows the team's access: subscribe one of the team's "
                                        "applications, and the playground gets the model too."})
    use_case = (use_case or "").strip()
    if not use_case:
        raise ValidationError({"use_case": "Say what the application will do with the model."})
    if alias.status not in REQUESTABLE:
        raise ValidationError({"alias": f"{alias.name} is {alias.status}; only approved or evaluating models "
                                        "take new subscriptions."})
    with transaction.atomic():
        sub = _create_request(actor=actor, application=application, alias=alias, use_case=use_case,
                              justification=justification)
        rule = matching_rule(application, alias)
        if rule is not None:
            return _move(sub, "approve", actor=None, label=POLICY, reason=f"Auto-approval rule #{rule.pk}: {rule}")
        for approver in approvers_of(alias):
            if approver != actor:  # nobody decides their own request, so they are not asked to
                notify(user=approver, title=f"{application.tenant.name} asks for {alias.name}",
                       body=f"{application.name} ({application.get_environment_display()}, "
                            f"{application.get_data_classification_display()} data): {sub.use_case}",
                       link=reverse("portal:approvals"))
        return sub


def _create_request(*, actor: User | None, application: Application, alias: ModelAlias, use_case: str,
                    justification: str) -> Subscription:
    Application.objects.select_for_update().get(pk=application.pk)  # one request at a time per application
    existing = Subscription.objects.filter(application=application, alias=alias, status__in=OPEN_STATUSES).first()
    if existing is not None:
        raise ValidationError({"alias": f"{application.name} already has a {existing.status} subscription to "
                                        f"{alias.name}."})
    sub = Subscription.objects.create(tenant_id=application.tenant_id, application=application, alias=alias,
                                      use_case=use_case[:200], justification=justification, requested_by=actor)
    SubscriptionTransition.objects.create(tenant_id=sub.tenant_id, subscription=sub, to_status=S.PENDING,
                                          actor=actor, actor_label=actor_label(actor), reason=justification)
    record_event(action="subscription.request", actor=actor, target=sub,
                 changes={"alias": alias.name, "application": application.name, "use_case": sub.use_case,
                          "data_classification": application.data_classification,
                          "environment": application.environment})
    return sub


def approve_subscription(*, actor: User | None, subscription: Subscription, comment: str = "") -> Subscription:
    """Grant the request. Approvers: the alias's model owners and platform admins, never the requester."""
    refuse_own_request(actor, subscription, verb="approve")
    check_permission(actor, "subscription.decide", subscription)
    with transaction.atomic():
        return _move(subscription, "approve", actor=actor, label=actor_label(actor),
                     reason=clean_reason(comment, required=False, what="approve"))


def reject_subscription(*, actor: User | None, subscription: Subscription, comment: str) -> Subscription:
    """Refuse the request; the comment (required) tells the requester why."""
    refuse_own_request(actor, subscription, verb="reject")
    check_permission(actor, "subscription.decide", subscription)
    reason = clean_reason(comment, required=True, what="reject it")
    with transaction.atomic():
        return _move(subscription, "reject", actor=actor, label=actor_label(actor), reason=reason)


def suspend_subscription(*, actor: User | None, subscription: Subscription, comment: str) -> Subscription:
    """Stop an approved subscription for now (its keys lose the alias at once); ``resume`` undoes it."""
    check_permission(actor, "subscription.decide", subscription)
    reason = clean_reason(comment, required=True, what="suspend it")
    with transaction.atomic():
        return _move(subscription, "suspend", actor=actor, label=actor_label(actor), reason=reason)


def resume_subscription(*, actor: User | None, subscription: Subscription, comment: str = "") -> Subscription:
    check_permission(actor, "subscription.decide", subscription)
    with transaction.atomic():
        return _move(subscription, "resume", actor=actor, label=actor_label(actor),
                     reason=clean_reason(comment, required=False, what="resume it"))


def cancel_subscription(*, actor: User | None, subscription: Subscription, comment: str = "") -> Subscription:
    """The team withdraws its request or gives up the access. Final."""
    check_permission(actor, "subscription.cancel", subscription)
    with transaction.atomic():
        return _move(subscription, "cancel", actor=actor, label=actor_label(actor),
                     reason=clean_reason(comment, required=False, what="cancel it"))


def grant_subscription(*, application: Application, alias: ModelAlias, reason: str) -> Subscription:
    """The system gives ``application`` approved access to ``alias`` (operator commands, seeds).

    Reuses an approved subscription, approves a pending one, resumes a suspended one, or
    requests and approves a new one — each step audited with "system" as the actor.
    """
    with transaction.atomic():
        sub = Subscription.objects.filter(application=application, alias=alias, status__in=OPEN_STATUSES).first()
        if sub is None:
            sub = _create_request(actor=None, application=application, alias=alias, use_case=reason,
                                  justification=reason)
        if sub.status == S.PENDING:
            sub = _move(sub, "approve", actor=None, label=SYSTEM, reason=reason)
        elif sub.status == S.SUSPENDED:
            sub = _move(sub, "resume", actor=None, label=SYSTEM, reason=reason)
        return sub


def create_auto_approval_rule(
    *, actor: User | None, alias: ModelAlias, environment: str = "", max_data_classification: str = "internal"
) -> AutoApprovalRule:
    """Approve future requests for ``alias`` that fit (environment, data classification) as "policy"."""
    check_permission(actor, "auto_approval.manage")
    with transaction.atomic():
        rule = AutoApprovalRule(alias=alias, environment=environment, max_data_classification=max_data_classification,
                                created_by=actor)
        rule.full_clean()
        rule.save()
        record_event(action="auto_approval_rule.create", actor=actor, target=rule,
                     changes={"alias": alias.name, "environment": environment or "any",
                              "max_data_classification": max_data_classification})
        return rule


def deactivate_auto_approval_rule(*, actor: User | None, rule: AutoApprovalRule) -> AutoApprovalRule:
    check_permission(actor, "auto_approval.manage")
    with transaction.atomic():
        rule.is_active = False
        rule.save(update_fields=["is_active"])
        record_event(action="auto_approval_rule.deactivate", actor=actor, target=rule, changes={"rule": str(rule)})
        return rule
