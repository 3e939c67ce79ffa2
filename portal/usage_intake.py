"""The ledger's intake: usage events from the gateway's Redis stream (full stack) or journal (embedded).

Both are at-least-once queues that the gateway filled before each response ended; this side makes
them exactly-once in the ledger: each batch is written in one transaction, idempotently by the
gateway's request id, and only then acknowledged (``XACK``) or deleted (journal segment). A worker
killed mid-batch leaves its entries pending in the consumer group; the next drain claims those
idle longer than ``USAGE_STREAM_CLAIM_IDLE_SECONDS`` (``XAUTOCLAIM``) and writes them again, which
the request-id uniqueness turns into a no-op for rows already committed.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import orjson
import structlog
from django.conf import settings

from portal.services.gateway_feedback import record_gateway_report

log = structlog.get_logger(__name__)

GROUP = "ledger"
BATCH = 500
MAX_SECONDS = 20.0  # one drain stops taking new batches after this long (the next nudge continues)


def _consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def write_events(events: list[dict[str, Any]]) -> int:
    """Write decoded events to the ledger (one transaction), then the keys' last use; returns how many.

    Two transactions, not one: holding the ledger's insert lock while waiting for the keys' row locks is a
    lock-order cycle with anything that locks both tables the other way round (a TRUNCATE, say).
    """
    if not events:
        return 0
    record_gateway_report(usage=events, refusals=[])
    _after_commit(events)
    return len(events)


_alerts_pending: dict[tuple, dict[str, Any]] = {}
_alerts_checked_at = 0.0


def _after_commit(events: list[dict[str, Any]]) -> None:
    """Budget alerts look at the committed ledger, at most every ``BUDGET_ALERT_CHECK_SECONDS`` per worker.

    A check sums each touched owner's spend for the period, so running it on every one-second batch
    would cost more than writing the batch; one event per owner and day is enough to say whom to check.
    An alert failure never un-writes a batch; a worker killed with checks pending loses nothing, since
    the next event of that owner recomputes its spend from the ledger.
    """
    global _alerts_checked_at
    for e in events:
        _alerts_pending[(e["key_id"], e["application_id"], e["alias"], str(e["occurred_at"])[:10])] = e
    if not _alerts_pending or time.monotonic() - _alerts_checked_at < settings.BUDGET_ALERT_CHECK_SECONDS:
        return
    touched = list(_alerts_pending.values())
    _alerts_pending.clear()
    _alerts_checked_at = time.monotonic()
    from portal.alerts import check_budget_alerts

    try:
        check_budget_alerts(touched)
    except Exception:
        log.exception("budget_alert_check_failed", owners=len(touched))


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        log.error("usage_event_unreadable", size=len(raw))
        return None
    return event if isinstance(event, dict) and event.get("request_id") else None


def _stream_client():
    import redis

    timeout = max(settings.REDIS_TIMEOUT_SECONDS, 5.0)
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout, socket_connect_timeout=timeout)


def drain_stream(*, max_seconds: float = MAX_SECONDS) -> int:
    """Write what the stream holds to the ledger; returns the number of events written."""
    import redis

    client = _stream_client()
    stream, consumer = settings.USAGE_STREAM, _consumer_name()
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except redis.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise
    written, deadline = 0, time.monotonic() + max_seconds
    idle_ms = int(settings.USAGE_STREAM_CLAIM_IDLE_SECONDS * 1000)
    # First what dead consumers left behind, then new entries; each batch committed before it is acknowledged.
    cursor = "0-0"
    while time.monotonic() < deadline:
        cursor, claimed, *_ = client.xautoclaim(stream, GROUP, consumer, min_idle_time=idle_ms, start_id=cursor,
                                                count=BATCH)
        if claimed:
            written += _write_entries(client, claimed)
        if cursor in (b"0-0", "0-0"):
            break
    # Our own pending entries (a previous drain in this process that failed before acknowledging).
    pending = client.xreadgroup(GROUP, consumer, {stream: "0"}, count=BATCH)
    for _, entries in pending or ():
        if entries:
            written += _write_entries(client, entries)
    while time.monotonic() < deadline:
        batch = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=BATCH)
        entries = [entry for _, items in (batch or ()) for entry in items]
        if not entries:
            break
        written += _write_entries(client, entries)
    client.close()
    return written


def _write_entries(client, entries: list) -> int:
    ids, events = [], []
    for entry_id, fields in entries:
        ids.append(entry_id)
        if fields and (event := _decode(fields.get(b"e") or fields.get("e") or b"")) is not None:
            events.append(event)
    written = write_events(events)
    if ids:
        stream = settings.USAGE_STREAM
        with client.pipeline(transaction=False) as pipe:
            pipe.xack(stream, GROUP, *ids)
            pipe.xdel(stream, *ids)
            pipe.execute()
    return written


def drain_journal(directory: Path | None = None) -> int:
    """Write the journal's sealed segments (and those of dead gateway processes) to the ledger."""
    from portal.usage_journal import read_events, segments_ready

    written = 0
    for segment in segments_ready(directory):
        try:
            raw = read_events(segment)
        except FileNotFoundError:  # another drain took it
            continue
        events = [e for line in raw if (e := _decode(line)) is not None]
        written += write_events(events)
        segment.unlink(missing_ok=True)
    return written


def drain() -> int:
    """The ledger's intake for this mode: the stream in the full stack (and any journal on this machine)."""
    written = drain_journal()
    if settings.REDIS_URL:
        written += drain_stream()
    _after_commit([])  # checks that waited for their interval
    return written
