"""The record of guardrail decisions, written by the ledger's intake: decisions, payloads, and blocks audited.

The gateway makes no database writes: it puts a call's decisions (``guard``) and, when its tenant's payload
logging is not off, its text (``payload``) on the usage event, and the intake passes the batch's live events
here inside the ledger's transaction. Each event that carries neither costs two dictionary look-ups; a batch
with decisions costs one bulk insert, with payloads another, with blocks one query and one audit row each.
Everything is idempotent by the ledger's request id, so a re-delivered batch records each call once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from aiplatform.audit import record_event
from aiplatform.models import AuditEvent, Tenant
from portal.models import GuardDecision, PayloadMode, PayloadRecord
from portal.models.guardrails import PAYLOAD_TEXT_CHARS
from portal.services.ledger_insert import insert_ignoring_duplicates

log = structlog.get_logger(__name__)

BLOCKED = "guardrail.blocked"
POLICY_VIOLATION = "policy_violation"
GATEWAY = "gateway"
MAX_DECISIONS = 200  # per call: a bound on what one event can add to the table
_MODES = frozenset(PayloadMode.values)


def record_guardrail_decisions(*, events: list[dict[str, Any]]) -> None:
    """Write the decisions, payloads and block audits that ``events`` carry (ledger rows of live keys, their
    ``occurred_at`` already a datetime). Runs inside the caller's transaction."""
    decisions: list[dict[str, Any]] = []
    payloads: list[dict[str, Any]] = []
    blocked: list[dict[str, Any]] = []
    for event in events:
        guard = event.get("guard")
        if guard:
            decisions += _decision_rows(event, guard)
            if event.get("status") == 403 and event.get("error_class") == POLICY_VIOLATION:
                blocked.append(event)
        payload = event.get("payload")
        if payload:
            row = _payload_row(event, payload)
            if row is not None:
                payloads.append(row)
    if decisions:
        insert_ignoring_duplicates(GuardDecision, decisions, conflict=("request_id", "position"))
    if payloads:
        insert_ignoring_duplicates(PayloadRecord, payloads)
    if blocked:
        _audit_blocks(blocked)


def _text(value: Any, most: int) -> str:
    return str(value or "")[:most]


def _count(value: Any) -> int:
    try:
        return max(0, min(int(value), 2_000_000_000))
    except (TypeError, ValueError):
        return 0


def _decision_rows(event: dict[str, Any], guard: Any) -> list[dict[str, Any]]:
    if not isinstance(guard, list):
        return []
    rows = []
    for position, decision in enumerate(guard[:MAX_DECISIONS]):
        if not isinstance(decision, dict):
            continue
        rows.append({
            "request_id": event["request_id"], "position": position, "occurred_at": event["occurred_at"],
            "tenant_id": event["tenant_id"], "application_id": event["application_id"], "alias": event["alias"],
            "policy": _text(decision.get("policy"), 63), "policy_version": _count(decision.get("version")),
            "stage": _text(decision.get("stage"), 8), "detector": _text(decision.get("detector"), 32),
            "label": _text(decision.get("label"), 100), "action": _text(decision.get("action"), 16),
            "count": _count(decision.get("count", 1)),
        })
    return rows


def _payload_row(event: dict[str, Any], payload: Any) -> dict[str, Any] | None:
    mode = payload.get("mode") if isinstance(payload, dict) else None
    if mode not in _MODES:
        return None
    with_text = mode != PayloadMode.METADATA  # metadata mode keeps sizes only, whatever the event says

    def text(key: str) -> str | None:
        value = payload.get(key)
        return str(value)[:PAYLOAD_TEXT_CHARS] if with_text and value is not None else None

    return {
        "request_id": event["request_id"], "occurred_at": event["occurred_at"], "tenant_id": event["tenant_id"],
        "alias": event["alias"], "mode": mode, "request_text": text("request"), "response_text": text("response"),
        "messages": _count(payload.get("messages")), "chars": _count(payload.get("chars")),
        "images": _count(payload.get("images")),
    }


def _audit_blocks(events: list[dict[str, Any]]) -> None:
    """One ``guardrail.blocked`` audit event per blocked call not audited yet: the rule that blocked it, never
    the text."""
    seen = set(AuditEvent.objects.filter(action=BLOCKED, request_id__in=[e["request_id"] for e in events])
               .values_list("request_id", flat=True))
    fresh = [e for e in events if e["request_id"] not in seen]
    if not fresh:
        return
    tenants = Tenant.objects.in_bulk({e["tenant_id"] for e in fresh})
    for event in fresh:
        rule = next((d for d in event["guard"] if isinstance(d, dict) and d.get("action") == "block"), {})
        occurred_at = event["occurred_at"]
        record_event(
            action=BLOCKED, actor=None, actor_label=GATEWAY, tenant=tenants.get(event["tenant_id"]),
            changes={
                "alias": event["alias"], "application_id": event["application_id"], "key_id": event["key_id"],
                "policy": _text(rule.get("policy"), 63), "version": _count(rule.get("version")),
                "stage": _text(rule.get("stage"), 8), "detector": _text(rule.get("detector"), 32),
                "label": _text(rule.get("label"), 100),
                "occurred_at": occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at,
            },
            ip="", request_id=event["request_id"],
        )


def prune_payload_records(*, now: datetime | None = None) -> int:
    """Delete payload records older than ``PAYLOAD_RETENTION_DAYS``; returns how many. Safe to run twice."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PAYLOAD_RETENTION_DAYS)
    with transaction.atomic():
        deleted, _ = PayloadRecord.objects.filter(occurred_at__lt=cutoff).delete()
    if deleted:
        log.info("payload_records_pruned", deleted=deleted, older_than=cutoff.isoformat())
    return deleted
