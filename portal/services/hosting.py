"""Dedicated-hosting requests: asked for by a team, decided by platform admins like subscriptions."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from portal.models import HostingRequest, HostingStatus
from portal.notifications import notify
from portal.services.transitions import (
    InvalidTransition,
    actor_label,
    check_permission,
    clean_reason,
    refuse_own_request,
)
from registry.models import Endpoint, ModelAlias

H = HostingStatus
PAST = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}


def request_hosting(
    *,
    actor: User | None,
    tenant: Tenant,
    alias: ModelAlias,
    expected_requests_per_minute: int,
    business_case: str,
    expected_tokens_per_minute: int = 0,
    latency_need: str = "standard",
    region: str = "global",
) -> HostingRequest:
    """Ask for dedicated capacity for ``alias``; platform admins decide."""
    check_permission(actor, "hosting.request", tenant)
    with transaction.atomic():
        request = HostingRequest(
            tenant=tenant, alias=alias, expected_requests_per_minute=expected_requests_per_minute,
            expected_tokens_per_minute=expected_tokens_per_minute, latency_need=latency_need, region=region,
            business_case=(business_case or "").strip(), requested_by=actor,
        )
        request.full_clean()
        request.save()
        record_event(action="hosting_request.create", actor=actor, target=request,
                     changes={"alias": alias.name, "expected_requests_per_minute": expected_requests_per_minute,
                              "expected_tokens_per_minute": expected_tokens_per_minute,
                              "latency_need": latency_need, "region": region})
        return request


def _decide(request: HostingRequest, verb: str, *, actor: User | None, reason: str,
            endpoint: Endpoint | None = None) -> HostingRequest:
    locked = HostingRequest.objects.select_for_update(of=("self",)).select_related("alias", "tenant", "requested_by").get(
        pk=request.pk)
    if locked.status != H.PENDING:
        if locked.status == PAST[verb]:
            message = f"This hosting request is already {locked.status}."
        else:
            message = f"This hosting request was {locked.status}; it can no longer be {PAST[verb]}."
        raise InvalidTransition(message, code=f"cannot_{verb}")
    before = locked.status
    locked.status = PAST[verb]
    if verb != "cancel":
        locked.decided_by, locked.decided_by_label = actor, actor_label(actor)
        locked.decided_at, locked.decision_comment = timezone.now(), reason
    locked.endpoint = endpoint if verb == "approve" else None
    locked.save()
    record_event(action=f"hosting_request.{verb}", actor=actor, target=locked,
                 changes={"status": [before, locked.status], "reason": reason,
                          "endpoint": str(endpoint) if endpoint else None})
    if verb == "approve":
        config_version.bump("keys")  # the team's traffic may now go to its dedicated endpoint
    if verb != "cancel":
        notify(user=locked.requested_by, title=f"Dedicated {locked.alias.name}: {PAST[verb]}",
               body=f"{actor_label(actor)} {PAST[verb]} the request for dedicated {locked.alias.name}."
                    + (f"\nServed by {endpoint}." if endpoint else "") + (f"\nWhy: {reason}" if reason else ""),
               link=reverse("portal:team", args=[locked.tenant.slug]))
    for field in HostingRequest._meta.concrete_fields:
        setattr(request, field.attname, getattr(locked, field.attname))
    return locked


def approve_hosting_request(*, actor: User | None, request: HostingRequest, endpoint: Endpoint,
                            comment: str = "") -> HostingRequest:
    """Approve and record the registry ``endpoint`` that serves the team (see ``selectors.dedicated_routes``)."""
    refuse_own_request(actor, request, verb="approve")
    check_permission(actor, "hosting.decide", request)
    if endpoint is None:
        raise ValidationError({"endpoint": "Name the endpoint that serves this team."})
    if not endpoint.is_active:
        raise ValidationError({"endpoint": f"{endpoint} is inactive."})
    with transaction.atomic():
        return _decide(request, "approve", actor=actor, endpoint=endpoint,
                       reason=clean_reason(comment, required=False, what="approve"))


def reject_hosting_request(*, actor: User | None, request: HostingRequest, comment: str) -> HostingRequest:
    refuse_own_request(actor, request, verb="reject")
    check_permission(actor, "hosting.decide", request)
    reason = clean_reason(comment, required=True, what="reject it")
    with transaction.atomic():
        return _decide(request, "reject", actor=actor, reason=reason)


def cancel_hosting_request(*, actor: User | None, request: HostingRequest, comment: str = "") -> HostingRequest:
    check_permission(actor, "hosting.cancel", request)
    with transaction.atomic():
        return _decide(request, "cancel", actor=actor, reason=clean_reason(comment, required=False, what="cancel"))
