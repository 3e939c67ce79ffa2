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


_usage: list[UsageEvent] = []
_refusals: list[Refusal] = []
refusal_counts: dict[str, int] = {}


def record_usage(event: UsageEvent) -> None:
    _usage.append(event)


def record_refusal(refusal: Refusal) -> None:
    refusal.occurred_at = refusal.occurred_at or datetime.now(UTC)
    refusal_counts[refusal.reason] = refusal_counts.get(refusal.reason, 0) + 1
    _refusals.append(refusal)


def _write(usage: list[UsageEvent], refusals: list[Refusal]) -> None:
    from portal import services as portal_services

    try:
        if usage:
            writer = getattr(portal_services, "record_usage_events", None)
            if writer is not None:
                writer(events=[asdict(e) for e in usage])
            else:
                for e in usage:
                    log.info("usage", **{k: str(v) if isinstance(v, Decimal | datetime) else v for k, v in asdict(e).items()})
            last_used: dict[int, datetime] = {}
            for e in usage:
                last_used[e.key_id] = max(last_used.get(e.key_id, e.occurred_at), e.occurred_at)
            portal_services.record_key_usage(last_used=last_used)
        if refusals:
            portal_services.record_gateway_refusals(refusals=[asdict(r) for r in refusals])
    finally:
        close_old_connections()


async def flush() -> None:
    """Write what is queued. On failure the batch goes back to the queue for the next flush."""
    global _usage, _refusals
    usage, refusals = _usage, _refusals
    if not usage and not refusals:
        return
    _usage, _refusals = [], []
    try:
        await sync_to_async(_write, thread_sensitive=False)(usage, refusals)
    except Exception:
        log.exception("meter_flush_failed", usage=len(usage), refusals=len(refusals))
        _usage[:0], _refusals[:0] = usage, refusals


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
