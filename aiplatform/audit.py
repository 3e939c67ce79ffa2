"""Recording and verifying the audit trail. ``record_event`` is the only writer.

Each row's hash is an HMAC-SHA256, keyed with ``AUDIT_HMAC_KEY`` (kept outside the database),
over its content and the previous row's hash, so rows cannot be edited and re-chained without
the key. The head of the chain (sequence and hash) is written now and then to a signed
checkpoint (``AUDIT_CHECKPOINT_PATH``, one JSON line each, also logged), so removing the
newest rows, or all of them, is detected too: ``verify_chain`` checks the rows against the
latest checkpoint. What this does and does not protect against: README, "Security".
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import math
import os
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from aiplatform.models import AuditEvent
from aiplatform.request_context import current_client_ip, current_request_id

log = structlog.get_logger("switchboard.audit")

GENESIS_HASH = "0" * 64
# A constant key for pg_advisory_xact_lock: one writer at a time extends the chain.
_CHAIN_LOCK_KEY = 0x5B_A0D1_7000
# How much of the checkpoint file's end is read to find the latest checkpoint.
_CHECKPOINT_TAIL_BYTES = 1 << 20

SYSTEM = "system"
POLICY = "policy"


def _key() -> bytes:
    return settings.AUDIT_HMAC_KEY.encode()


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
    """The row's HMAC-SHA256 under ``AUDIT_HMAC_KEY``, over its content and ``prev_hash``."""
    return hmac.new(_key(), _canonical(_hashed_fields(row)), hashlib.sha256).hexdigest()


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


def _as_stored(value: Any) -> Any:
    """A JSON value in the form the database gives back, so the stored row matches its hash.

    PostgreSQL's JSONB keeps numbers as exact decimals and prints them without an exponent:
    a float Python writes as ``1e+20`` (any float of 1e16 or more) comes back as the integer
    100000000000000000000, and -0.0 comes back as 0.0. Such floats are stored as those values
    to begin with (equal in Python: ``1e20 == 10**20``); NaN and infinities, which JSON cannot
    carry, are stored as strings. SQLite gives back what was written, these values included.
    """
    if isinstance(value, dict):
        return {key: _as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_stored(item) for item in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value == 0:
            return 0.0
        if "e+" in repr(value):
            return int(Decimal(repr(value)))
    return value


def _jsonable(changes: dict[str, Any] | None) -> dict[str, Any]:
    # Round-trip first so dates, decimals and other objects become strings, as they are stored.
    return _as_stored(json.loads(json.dumps(changes or {}, default=str)))


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


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at a moment: row ``seq`` had hash ``hash`` at ``at`` (ISO 8601)."""

    seq: int
    hash: str
    at: str

    def signature(self) -> str:
        message = b"switchboard-audit-checkpoint:" + _canonical({"seq": self.seq, "hash": self.hash, "at": self.at})
        return hmac.new(_key(), message, hashlib.sha256).hexdigest()


@dataclass
class ChainReport:
    """What ``verify_chain`` found: rows checked, every problem, and the head it ended on."""

    checked: int = 0
    problems: list[ChainProblem] = field(default_factory=list)
    head: Checkpoint | None = None
    anchor: Checkpoint | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def _missing(first: int, last: int) -> str:
    return f"row {first} is missing" if first == last else f"rows {first}-{last} are missing"


def verify_chain(*, batch_size: int = 2000, since: Checkpoint | None = None) -> ChainReport:
    """Walk the trail in order and report every problem, checked against the latest checkpoint.

    With ``since`` only the rows from that checkpoint on are walked (the checkpoint task's
    incremental check); otherwise the whole trail, anchored at the latest checkpoint there is.
    """
    report = ChainReport()
    anchor = since
    if since is None:
        anchor, report.problems = latest_checkpoint()
    report.anchor = anchor
    rows = AuditEvent.objects.order_by("seq")
    expected_seq, expected_prev = 1, GENESIS_HASH
    if since is not None:
        rows = rows.filter(seq__gte=since.seq)
        expected_seq, expected_prev = since.seq, None  # that row's own link was checked before it was checkpointed
    anchored_hash = None
    for row in rows.iterator(chunk_size=batch_size):
        if row.seq != expected_seq:
            report.problems.append(ChainProblem(expected_seq, _missing(expected_seq, row.seq - 1)))
        elif expected_prev is not None and row.prev_hash != expected_prev:
            report.problems.append(
                ChainProblem(row.seq, "does not link to the row before it (a row was removed, inserted or replaced)")
            )
        if not hmac.compare_digest(compute_hash(row), row.hash):
            report.problems.append(
                ChainProblem(row.seq, "content does not match its hash (the row was modified or re-hashed)")
            )
        if anchor is not None and row.seq == anchor.seq:
            anchored_hash = row.hash
        expected_seq, expected_prev = row.seq + 1, row.hash
        report.checked += 1
        report.head = Checkpoint(seq=row.seq, hash=row.hash, at="")
    if anchor is not None:
        report.problems.extend(_against_checkpoint(anchor, last_seq=expected_seq - 1, anchored_hash=anchored_hash))
    return report


def _against_checkpoint(anchor: Checkpoint, *, last_seq: int, anchored_hash: str | None) -> list[ChainProblem]:
    if last_seq < anchor.seq:
        return [
            ChainProblem(
                last_seq + 1,
                f"{_missing(last_seq + 1, anchor.seq)}: the trail ends at seq {last_seq} but was checkpointed "
                f"at seq {anchor.seq} ({anchor.at}); the newest rows were removed",
            )
        ]
    if anchored_hash != anchor.hash:
        return [
            ChainProblem(
                anchor.seq,
                f"differs from the checkpoint of {anchor.at} (the row, or the rows before it, were replaced)",
            )
        ]
    return []


def _checkpoint_path() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_PATH)


def latest_checkpoint() -> tuple[Checkpoint | None, list[ChainProblem]]:
    """The newest correctly signed checkpoint, and a problem for each newer line that is not."""
    path = _checkpoint_path()
    if not path.exists():
        return None, []
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        f.seek(max(0, size - _CHECKPOINT_TAIL_BYTES))
        tail = f.read().decode(errors="replace").splitlines()
    if size > _CHECKPOINT_TAIL_BYTES:
        tail = tail[1:]  # the first line read is probably cut
    problems = []
    for line in reversed(tail):
        if not line.strip():
            continue
        try:
            fields = json.loads(line)
            checkpoint = Checkpoint(seq=int(fields["seq"]), hash=str(fields["hash"]), at=str(fields["at"]))
            signed = hmac.compare_digest(checkpoint.signature(), str(fields["sig"]))
        except (ValueError, KeyError, TypeError):
            checkpoint, signed = None, False
        if signed:
            return checkpoint, problems
        problems.append(
            ChainProblem(
                checkpoint.seq if checkpoint else 0,
                f"checkpoint line in {path} is not signed with this key (forged, damaged or another key): {line[:200]}",
            )
        )
    return None, problems


def write_checkpoint(head: Checkpoint) -> Checkpoint:
    """Append a signed checkpoint of ``head`` to the checkpoint file and the log; return it."""
    checkpoint = Checkpoint(seq=head.seq, hash=head.hash, at=timezone.now().isoformat())
    line = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash, "at": checkpoint.at, "sig": checkpoint.signature()})
    path = _checkpoint_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One write of one short line to a file opened for appending: concurrent writers do not interleave.
    with path.open("a") as f:
        f.write(line + "\n")
        f.flush()
        os.fsync(f.fileno())
    log.info("audit.checkpoint", seq=checkpoint.seq, hash=checkpoint.hash, at=checkpoint.at, sig=checkpoint.signature())
    return checkpoint


def checkpoint_head() -> ChainReport:
    """Checkpoint the chain's head if the rows since the latest checkpoint verify; the beat task's job.

    Only the rows from the latest checkpoint on are checked (all of them the first time), so a
    trail cut short or re-hashed is never anchored: the problems are logged instead. Nothing is
    written when the head has not moved.
    """
    anchor, bad_lines = latest_checkpoint()
    if anchor is None:
        report = verify_chain()  # the first checkpoint: the whole trail
    else:
        report = verify_chain(since=anchor)
        report.problems[:0] = bad_lines
    if not report.intact:
        log.error("audit.chain_broken", problems=[f"seq {p.seq}: {p.reason}" for p in report.problems])
    elif report.head is not None and (anchor is None or anchor.seq != report.head.seq):
        write_checkpoint(report.head)
    return report
