"""What the gateway reports back, in batches and off the request path: usage, key use, guardrail decisions and
refusals."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from django.db import transaction

from aiplatform.audit import record_event
from aiplatform.models import AuditEvent, Tenant
from portal.models import ApiKey, UsageEvent
from portal.models.keys import PREFIX_LENGTH
from portal.services.guardrails import record_guardrail_decisions
from portal.services.ledger_insert import insert_ignoring_duplicates

log = structlog.get_logger(__name__)

GATEWAY = "gateway"
_PREFIX_SHAPE = re.compile(r"^sb-[A-Za-z0-9_-]{1,9}$")
# key_missing, key_malformed, key_unknown, key_revoked, key_expired, ip_not_allowed, alias_not_subscribed, ...
_REASON_SHAPE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def record_usage_events(*, events: list[dict[str, Any]]) -> int:
    """Write a batch of gateway usage events; an event already recorded (same request id) is skipped.

    Returns how many rows the batch held. One ``INSERT … ON CONFLICT (request_id) DO NOTHING``
    statement, executed for every row in one round trip; the guardrail decisions and payloads the events
    carry in the same transaction (``portal.services.guardrails``: no statement when there are none).
    """
    # An event whose key or application is gone would fail the whole INSERT (and every retry of it).
    live_keys = set(ApiKey.objects.filter(pk__in={e["key_id"] for e in events}).values_list("pk", "application_id"))
    rows, dropped = [], 0
    for e in events:
        if (e["key_id"], e["application_id"]) not in live_keys:
            dropped += 1
            continue
        rows.append(e)
    if dropped:
        log.warning("usage_events_dropped", count=dropped, reason="unknown key or application")
    if rows:
        # The ledger rows and the record of their guardrail decisions commit together, or neither does.
        with transaction.atomic():
            insert_ignoring_duplicates(UsageEvent, rows)
            record_guardrail_decisions(events=rows)
    return len(rows)


def record_key_usage(*, last_used: dict[int, datetime]) -> None:
    """Move each key's ``last_used_at`` forward to the given time (never back). Two queries per batch."""
    if not last_used:
        return
    with transaction.atomic():
        keys = list(ApiKey.objects.select_for_update().filter(pk__in=list(last_used)).order_by("pk").only("pk", "last_used_at"))
        changed = []
        for key in keys:
            when = last_used[key.pk]
            if key.last_used_at is None or when > key.last_used_at:
                key.last_used_at = when
                changed.append(key)
        if changed:
            ApiKey.objects.bulk_update(changed, ["last_used_at"])


def _safe_prefix(value: Any) -> str:
    """At most the visible prefix of a key, and only if it looks like one: a secret never reaches the trail."""
    text = str(value or "")[:PREFIX_LENGTH]
    return text if _PREFIX_SHAPE.match(text) else ""


def record_gateway_report(*, usage: list[dict[str, Any]], refusals: list[dict[str, Any]]) -> None:
    """One batch the gateway published (JSON-decoded: times as ISO strings, costs as decimal strings).

    Safe to run twice for the same batch (a re-delivered task): usage events are unique by request id,
    refusals already in the trail for their request id are skipped, and ``last_used_at`` never moves back.
    """
    for event in usage:
        event["occurred_at"] = _as_datetime(event["occurred_at"])
        event["cost"] = Decimal(str(event["cost"]))
    if usage:
        record_usage_events(events=usage)
        last_used: dict[int, datetime] = {}
        for event in usage:
            key_id, when = event["key_id"], event["occurred_at"]
            last_used[key_id] = max(last_used.get(key_id, when), when)
        record_key_usage(last_used=last_used)
    if refusals:
        seen = set(
            AuditEvent.objects.filter(
                action="gateway.refusal", request_id__in=[str(r.get("request_id") or "") for r in refusals]
            ).values_list("request_id", flat=True)
        )
        fresh = [r for r in refusals if not r.get("request_id") or str(r["request_id"]) not in seen]
        for refusal in fresh:
            if refusal.get("occurred_at"):
                refusal["occurred_at"] = _as_datetime(refusal["occurred_at"])
        record_gateway_refusals(refusals=fresh)


def _as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def record_gateway_refusals(*, refusals: list[dict]) -> None:
    """One audit event (``gateway.refusal``) per refused call: reason, key prefix, key id, alias, IP, request id.

    Each refusal dict carries ``reason``, ``request_id``, ``ip`` and optionally ``key_prefix``,
    ``key_id``, ``tenant_id``, ``alias``, ``occurred_at``. A reason that is not a short snake_case word is kept as "other".
    """
    if not refusals:
        return
    key_ids = {r["key_id"] for r in refusals if r.get("key_id")}
    keys = ApiKey.objects.select_related("application").in_bulk(key_ids) if key_ids else {}
    tenant_ids = {r["tenant_id"] for r in refusals if r.get("tenant_id")} | {k.tenant_id for k in keys.values()}
    tenants = Tenant.objects.in_bulk(tenant_ids) if tenant_ids else {}
    with transaction.atomic():
        for refusal in refusals:
            key = keys.get(refusal.get("key_id"))
            tenant = tenants.get(refusal.get("tenant_id") or (key.tenant_id if key else None))
            reason = str(refusal.get("reason") or "")
            occurred_at = refusal.get("occurred_at")
            record_event(
                action="gateway.refusal", actor=None, actor_label=GATEWAY, tenant=tenant, target=key,
                changes={
                    "reason": reason if _REASON_SHAPE.match(reason) else "other",
                    "key_prefix": key.key_prefix if key else _safe_prefix(refusal.get("key_prefix")),
                    "key_id": key.pk if key else None,
                    "alias": str(refusal.get("alias") or "")[:100],
                    "occurred_at": occurred_at.isoformat() if isinstance(occurred_at, datetime) else occurred_at,
                },
                ip=refusal.get("ip") or "", request_id=str(refusal.get("request_id") or "")[:128],
            )
