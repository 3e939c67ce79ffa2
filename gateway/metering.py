"""Usage events and refusals leave the request path here: queued in memory, written in batches.

``record_usage`` and ``record_refusal`` only append to a list (no I/O). A flusher started by the
ASGI lifespan writes the batch every ``GATEWAY_METER_FLUSH_SECONDS`` through the portal's
services (in a thread), and once more at shutdown. A later issue makes this durable across a
crash (a Redis stream with idempotent request ids); until then a process killed with -9 loses
at most one flush interval of events.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

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


MAX_QUEUED = 100_000  # events kept for retry while the database is unreachable
_usage: list[UsageEvent] = []
_refusals: list[Refusal] = []
refusal_counts: dict[str, int] = {}


def record_usage(event: UsageEvent) -> None:
    _usage.append(event)


def record_refusal(refusal: Refusal) -> None:
    refusal.occurred_at = refusal.occurred_at or datetime.now(UTC)
    refusal_counts[refusal.reason] = refusal_counts.get(refusal.reason, 0) + 1
    _refusals.append(refusal)


def _write_usage(usage: list[UsageEvent]) -> None:
    from portal import services as portal_services

    try:
        portal_services.record_usage_events(events=[asdict(e) for e in usage])
        last_used: dict[int, datetime] = {}
        for e in usage:
            last_used[e.key_id] = max(last_used.get(e.key_id, e.occurred_at), e.occurred_at)
        portal_services.record_key_usage(last_used=last_used)
    finally:
        close_old_connections()


def _write_refusals(refusals: list[Refusal]) -> None:
    from portal import services as portal_services

    try:
        portal_services.record_gateway_refusals(refusals=[asdict(r) for r in refusals])
    finally:
        close_old_connections()


async def _write_or_return(batch: list, write, kind: str) -> list:
    """Write ``batch``; return it when the write failed, so it is tried again next time."""
    if not batch:
        return []
    try:
        await sync_to_async(write, thread_sensitive=False)(batch)
        return []
    except Exception:
        log.exception("meter_flush_failed", kind=kind, count=len(batch))
        return batch


def _bounded(queue: list, kind: str) -> list:
    if len(queue) > MAX_QUEUED:
        log.error("meter_queue_overflow", kind=kind, dropped=len(queue) - MAX_QUEUED)
        return queue[-MAX_QUEUED:]
    return queue


async def flush() -> None:
    """Write what is queued; usage and refusals independently, so one failing cannot hold up the other.

    A failed batch goes back to the front of its queue for the next flush; the queues are bounded
    (``MAX_QUEUED``), and past that the oldest entries are dropped with an error in the log.
    """
    global _usage, _refusals
    usage, refusals = _usage, _refusals
    _usage, _refusals = [], []
    retry_usage = await _write_or_return(usage, _write_usage, "usage")
    _usage = _bounded(retry_usage + _usage, "usage")
    retry_refusals = await _write_or_return(refusals, _write_refusals, "refusals")
    _refusals = _bounded(retry_refusals + _refusals, "refusals")


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
