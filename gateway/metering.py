"""Usage events and refusals leave the request path here, durably and off the database.

A call's usage event is recorded once, by ``gateway.pipeline.finish``, before its response ends:
- full stack: the limiter's settle script appends it to the Redis stream ``USAGE_STREAM`` in the
  same round trip that charges the call (while Redis is unreachable, it goes to the journal and is
  replayed into the stream when Redis answers again);
- embedded mode: one ``write(2)`` to the usage journal (``portal.usage_journal``).
A Celery consumer (``portal.usage_intake``) writes the ledger from there in batches, acknowledging
only after the commit, so neither a SIGKILL of the gateway nor of the worker loses an event.

Refusals before a call is attributed (bad key, not subscribed, ...) are audit events, queued in
memory and published every ``GATEWAY_METER_FLUSH_SECONDS`` as one Celery task
(``portal.record_gateway_report``). Shadow results (``gateway.routing.shadow``: a mirrored call's
answer beside the primary's) go the same way, as ``portal.record_shadow_results``: they are no
caller's usage, and losing a few with a dying process costs a comparison, not a bill. The same
flusher seals the journal segment and nudges the ledger consumer, so the ledger is about a second
behind the gateway.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings

from portal.usage_journal import Journal

log = structlog.get_logger("switchboard.gateway.metering")


@dataclass(slots=True)
class UsageEvent:
    """One call through the gateway, as metering and billing see it."""

    request_id: str
    occurred_at: datetime
    tenant_id: int
    application_id: int
    key_id: int
    alias: str
    endpoint_id: int | None
    provider_kind: str
    operation: str  # chat | embeddings | messages
    streamed: bool
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    usage_source: str  # provider | tokenizer | estimate
    cost: Decimal
    ttfb_ms: float | None
    total_ms: float
    status: int
    error_class: str = ""
    client_request_id: str = ""  # the caller's X-Request-Id, searchable; never the ledger's key
    shadow_limits: str = ""  # shadow-mode limits that would have refused this call
    variant: str = ""  # the route (A/B variant) that served it, or was tried last
    attempt_count: int = 1
    # Every try when there was more than one (endpoint, status, error, ms); failed tries carry no tokens.
    attempts: list | None = None
    # Guardrails: one dict per decision that fired (policy, version, stage, detector, label, action, count),
    # never the value found; None when none fired. The ledger keeps them as GuardDecision rows.
    guard: list | None = None
    # The call's text as the tenant's payload logging keeps it (mode, request, response, sizes); None when off.
    payload: dict | None = None
    batch_id: str = ""  # the batch this call was a line of (the Batch API); "" for a live call
    prompt: str = ""  # the prompt API called (/v1/prompts/<slug>); "" for a plain call
    prompt_version: int | None = None


@dataclass(slots=True)
class Refusal:
    """A call the gateway refused before it reached a model (bad key, not subscribed, ...)."""

    reason: str
    request_id: str
    ip: str | None
    key_prefix: str = ""
    key_id: int | None = None
    tenant_id: int | None = None
    alias: str = ""
    occurred_at: datetime | None = None


@dataclass(slots=True)
class ShadowRecord:
    """A call mirrored to a shadow route, beside the primary call it copied (texts already capped)."""

    request_id: str  # the primary call's (its ledger row's) id
    occurred_at: datetime
    tenant_id: int
    alias: str
    streamed: bool  # the primary was streamed (the shadow never is)
    primary_endpoint_id: int | None
    primary_text: str
    primary_ttfb_ms: float | None
    primary_total_ms: float
    primary_prompt_tokens: int
    primary_completion_tokens: int
    primary_cost: Decimal
    shadow_endpoint_id: int
    shadow_text: str
    shadow_ms: float
    shadow_prompt_tokens: int
    shadow_completion_tokens: int
    shadow_cost: Decimal  # charged to the platform, never to the caller
    shadow_status: int  # 200, or the failure's status
    shadow_error: str = ""


MAX_QUEUED = 100_000  # events kept for retry while the database is unreachable
MAX_QUEUED_SHADOWS = 5_000  # each holds two texts of up to 20,000 characters
_refusals: list[Refusal] = []
refusal_counts: dict[str, int] = {}


journal = Journal()
_recorded_since_nudge = 0


_queued_usage: list[UsageEvent] = []
_shadows: list[ShadowRecord] = []


def queue_usage(event: UsageEvent) -> None:
    """Governance off (``GATEWAY_GOVERNANCE=false``, the bench's baseline): keep the event in memory until the
    next flush publishes it with the refusals. Lost if the process dies; never the default."""
    _queued_usage.append(event)


def event_bytes(event: UsageEvent) -> bytes:
    """One event as the ledger consumer reads it: JSON, times in ISO 8601, costs as decimal strings."""
    return orjson.dumps(event, default=str)


def note_recorded() -> None:
    """Count an event recorded (stream or journal), so the next flush nudges the consumer."""
    global _recorded_since_nudge
    _recorded_since_nudge += 1


def record_refusal(refusal: Refusal) -> None:
    refusal.occurred_at = refusal.occurred_at or datetime.now(UTC)
    refusal_counts[refusal.reason] = refusal_counts.get(refusal.reason, 0) + 1
    _refusals.append(refusal)


def record_shadow(record: ShadowRecord) -> None:
    """Queue one shadow result for the next flush (memory only: no I/O, no database)."""
    _shadows.append(record)


def batch_payload(refusals: list[Refusal], usage: list[UsageEvent] = ()) -> str:
    """One batch as the worker's task receives it: JSON, times in ISO 8601, costs as decimal strings."""
    # orjson writes dataclasses natively (about ten times faster than dataclasses.asdict).
    return orjson.dumps({"usage": list(usage), "refusals": refusals}, default=str).decode()


def _publish(refusals: list[Refusal], nudge: bool, usage: list[UsageEvent] = (),
             shadows: list[ShadowRecord] = ()) -> None:
    """Hand refusals and shadow results to the broker and nudge the ledger consumer (blocking I/O: runs in a thread)."""
    from portal.tasks import drain_usage, record_gateway_report, record_shadow_results

    if refusals or usage:
        record_gateway_report.apply_async(args=[batch_payload(refusals, usage)])
    if shadows:
        record_shadow_results.apply_async(args=[orjson.dumps(shadows, default=str).decode()])
    if nudge:
        # Expires: a nudge that waited longer than this is moot (the next one, or beat, drains anyway).
        drain_usage.apply_async(expires=30)


def _bounded(queue: list, kind: str, most: int = MAX_QUEUED) -> list:
    if len(queue) > most:
        log.error("meter_queue_overflow", kind=kind, dropped=len(queue) - most)
        return queue[-most:]
    return queue


async def _replay_journal() -> int:
    """Full stack: move sealed journal segments (written while Redis was down) into the stream."""
    from gateway.limits.limiter import limiter
    from portal.usage_journal import read_events, segments_ready

    moved = 0
    for segment in segments_ready(journal.directory, include_orphans=True):
        claimed = segment.with_name(segment.name + f".replay-{os.getpid()}")
        try:
            os.rename(segment, claimed)  # atomic: two processes never replay one segment
        except FileNotFoundError:
            continue
        events = read_events(claimed)
        try:
            if events:
                await limiter.shared.append_events(events)
        except Exception:
            os.rename(claimed, segment)
            raise
        claimed.unlink()
        moved += len(events)
    return moved


async def flush() -> None:
    """Seal the journal segment, replay it to the stream (full stack), publish refusals, nudge the consumer.

    Refusals the broker did not take go back to the front of the queue for the next flush; the queue
    is bounded (``MAX_QUEUED``), and past that the oldest entries are dropped with an error in the log.
    """
    global _refusals, _recorded_since_nudge, _queued_usage, _shadows
    sealed = journal.seal()
    if settings.REDIS_URL and (sealed is not None or _orphans_possible()):
        try:
            _recorded_since_nudge += await _replay_journal()
        except Exception as exc:  # Redis still down: the segments wait on disk for the next flush
            log.warning("journal_replay_failed", error=type(exc).__name__)
    refusals, nudge, usage, shadows = _refusals, _recorded_since_nudge > 0, _queued_usage, _shadows
    if not refusals and not nudge and not usage and not shadows:
        return
    _refusals, _recorded_since_nudge, _queued_usage, _shadows = [], 0, [], []
    try:
        await sync_to_async(_publish, thread_sensitive=False)(refusals, nudge, usage, shadows)
    except Exception:
        log.exception("meter_publish_failed", refusals=len(refusals), shadows=len(shadows))
        _refusals = _bounded(refusals + _refusals, "refusals")
        _queued_usage = _bounded(usage + _queued_usage, "usage")
        _shadows = _bounded(shadows + _shadows, "shadows", MAX_QUEUED_SHADOWS)


_last_orphan_scan = 0.0


def _orphans_possible() -> bool:
    """Look for segments left by other (dead) processes now and then, not every flush."""
    global _last_orphan_scan
    now = time.monotonic()
    if now - _last_orphan_scan < 10:
        return False
    _last_orphan_scan = now
    return True


class Flusher:
    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.GATEWAY_METER_FLUSH_SECONDS)
            await flush()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gateway-meter-flusher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        await flush()


flusher = Flusher()
