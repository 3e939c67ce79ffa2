"""Usage events and refusals leave the request path here: queued in memory, published in batches.

``record_usage`` and ``record_refusal`` only append to a list (no I/O). A flusher started by the
ASGI lifespan publishes the batch every ``GATEWAY_METER_FLUSH_SECONDS`` as one Celery task
(``portal.record_gateway_report``) and once more at shutdown; the worker writes the ledger, the
keys' last use and the refusals' audit events, idempotently by request id. So the serving process
spends no database time on metering (measured: the ORM writes were 17 % of its CPU at 1,400 req/s,
and their GIL hold was the p99 tail at concurrency 1). Once published, a batch survives the
gateway (it sits in the broker; the worker acknowledges late); a process killed with -9 loses at
most one flush interval of events.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings

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


def batch_payload(usage: list[UsageEvent], refusals: list[Refusal]) -> str:
    """One batch as the worker's task receives it: JSON, times in ISO 8601, costs as decimal strings."""
    # orjson writes dataclasses natively (about ten times faster than dataclasses.asdict), Decimal via str.
    return orjson.dumps({"usage": usage, "refusals": refusals}, default=str).decode()


def _publish(usage: list[UsageEvent], refusals: list[Refusal]) -> None:
    """Hand one batch to the broker (blocking I/O: runs in a thread); the worker writes it."""
    from portal.tasks import record_gateway_report

    record_gateway_report.apply_async(args=[batch_payload(usage, refusals)])


def _bounded(queue: list, kind: str) -> list:
    if len(queue) > MAX_QUEUED:
        log.error("meter_queue_overflow", kind=kind, dropped=len(queue) - MAX_QUEUED)
        return queue[-MAX_QUEUED:]
    return queue


async def flush() -> None:
    """Publish what is queued as one batch.

    A batch the broker did not take goes back to the front of the queues for the next flush; the
    queues are bounded (``MAX_QUEUED``), and past that the oldest entries are dropped with an error
    in the log.
    """
    global _usage, _refusals
    usage, refusals = _usage, _refusals
    if not usage and not refusals:
        return
    _usage, _refusals = [], []
    try:
        await sync_to_async(_publish, thread_sensitive=False)(usage, refusals)
    except Exception:
        log.exception("meter_publish_failed", usage=len(usage), refusals=len(refusals))
        _usage = _bounded(usage + _usage, "usage")
        _refusals = _bounded(refusals + _refusals, "refusals")


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
