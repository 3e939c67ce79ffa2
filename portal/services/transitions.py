"""What the services share: the system-actor permission check and the refusal of a bad transition."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError

from aiplatform.audit import record_event
from aiplatform.permissions import require


class InvalidTransition(ValidationError):
    """A request cannot move from its current status that way (approving twice, approving a cancelled one...)."""


def check_permission(actor, action: str, obj=None) -> None:
    """``require`` for a person; the system (``actor=None``) may do anything."""
    if actor is not None:
        require(actor, action, obj)


def refuse_own_request(actor, request, *, verb: str) -> None:
    """Nobody decides their own request: audited (outside any transaction) and refused with a clear message."""
    if actor is not None and request.requested_by_id is not None and request.requested_by_id == actor.pk:
        record_event(action="security.self_approval_refused", actor=actor, target=request, changes={"verb": verb})
        raise PermissionDenied(f"You cannot {verb} your own request: another approver has to decide it.")


def actor_label(actor, default: str = "system") -> str:
    return actor.email if actor is not None else default


def clean_reason(reason: str, *, required: bool, what: str) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise ValidationError({"comment": f"Say why you {what}: the requester will read it."})
    return reason[:2000]
