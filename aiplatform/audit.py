"""Recording and verifying the audit trail. ``record_event`` is the only writer."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import dataclass
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from aiplatform.models import AuditEvent
from aiplatform.request_context import current_client_ip, current_request_id

GENESIS_HASH = "0" * 64
# A constant key for pg_advisory_xact_lock: one writer at a time extends the chain.
_CHAIN_LOCK_KEY = 0x5B_A0D1_7000

SYSTEM = "system"
POLICY = "policy"


def _canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def _hashed_fields(row: AuditEvent) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.isoformat(),
        "actor_id": row.actor_id,
        "actor_label": row.actor_label,
        "tenant_id": row.tenant_id,
        "action": row.action,
        "target_type": row.target_type,
        "target_id": row.target_id,
        "target_label": row.target_label,
        "changes": row.changes,
        "ip": row.ip,
        "request_id": row.request_id,
        "prev_hash": row.prev_hash,
    }


def compute_hash(row: AuditEvent) -> str:
    return hashlib.sha256(_canonical(_hashed_fields(row))).hexdigest()


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: the settings open every transaction IMMEDIATE, so writers are already serialised.


def _normalised_ip(ip: str | None) -> str | None:
    # Stored as the database prints it back (IPv6 compressed), so the hash still matches.
    if not ip:
        return None
    try:
        return ipaddress.ip_address(ip).compressed
    except ValueError:
        return None


def _jsonable(changes: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip so the stored value equals what was hashed (dates, decimals become strings).
    return json.loads(json.dumps(changes or {}, default=str))


def record_event(
    *,
    action: str,
    actor: Any = None,
    actor_label: str | None = None,
    tenant: Any = None,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
    ip: str | None = None,
    request_id: str | None = None,
) -> AuditEvent:
    """Append one event to the trail and return it.

    ``actor`` is a user, or None for the system (``actor_label`` then says who: "system",
    "policy"). ``tenant`` defaults to the target's tenant. IP and request id default to the
    current request's. Runs inside the caller's transaction when there is one, so the event
    is written if and only if the change it describes is.
    """
    if tenant is None and target is not None:
        tenant = getattr(target, "tenant", None)
    is_user = actor is not None and getattr(actor, "pk", None) is not None
    with transaction.atomic():
        _lock_chain()
        last = AuditEvent.objects.order_by("-seq").only("seq", "hash").first()
        row = AuditEvent(
            seq=(last.seq + 1) if last else 1,
            occurred_at=timezone.now(),
            actor=actor if is_user else None,
            actor_label=actor_label or (actor.email if is_user else SYSTEM),
            tenant=tenant,
            action=action,
            target_type=target._meta.label_lower if target is not None else "",
            target_id=str(target.pk) if target is not None and target.pk is not None else "",
            target_label=str(target)[:254] if target is not None else "",
            changes=_jsonable(changes),
            ip=_normalised_ip(ip if ip is not None else current_client_ip()),
            request_id=request_id if request_id is not None else (current_request_id() or ""),
            prev_hash=last.hash if last else GENESIS_HASH,
        )
        row.hash = compute_hash(row)
        row.save(force_insert=True)
    return row


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str


def verify_chain(*, batch_size: int = 2000) -> tuple[int, ChainProblem | None]:
    """Walk the trail in order; return the number of rows checked and the first problem found."""
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    for row in AuditEvent.objects.order_by("seq").iterator(chunk_size=batch_size):
        if row.seq != expected_seq:
            return checked, ChainProblem(expected_seq, f"row {expected_seq} is missing (next row is {row.seq})")
        if row.prev_hash != expected_prev:
            return checked, ChainProblem(row.seq, "does not link to the row before it (a row was removed or replaced)")
        if compute_hash(row) != row.hash:
            return checked, ChainProblem(row.seq, "content does not match its hash (the row was modified)")
        expected_prev, expected_seq = row.hash, row.seq + 1
        checked += 1
    return checked, None

