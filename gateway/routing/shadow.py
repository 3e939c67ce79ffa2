"""Shadow traffic (dark launch): a sampled share of an alias's chat calls mirrored to its shadow routes.

A route with ``shadow_sample`` above 0 never serves callers (``gateway.routing.order`` leaves it out); it
gets that share of the alias's calls copied to it, after the caller has been answered, so the model owner
can compare the two answers (``/portal/shadow/``).

Contract:
- ``pick(ctx)`` — step 4, beside ``candidates()``: the shadow route this call is mirrored to, or None. One
  uniform draw against the shadow routes' shares in turn (each route gets its own share while the shares
  add up to at most 1); chat calls only. Sync, no I/O; an alias without shadow routes costs one attribute
  check (``AliasRouting.shadows``).
- ``mirror(ctx, event)`` — from ``finish``, once the caller's usage event is settled, for a call that
  answered (200): schedules the shadow call as a background task and returns at once (it never awaits, so
  the caller's answer, sent after ``finish`` for a non-streamed call, never waits for the shadow). The
  task calls the shadow endpoint's adapter, never streamed, with a copy of the request, within its
  endpoint's timeouts and ``max_in_flight``; it never touches the caller's limiter reservation, budget or
  usage event, and does not feed the endpoint's circuit breaker (shadow traffic never changes how the
  serving routes are chosen). Its result (latency, tokens, cost at the shadow endpoint's prices — the
  platform's, not the caller's — the two texts, the error if it failed) is queued in memory and leaves
  with the once-a-second flush (``gateway.metering.record_shadow``), never a database write here.
- Bounded: at most ``GATEWAY_SHADOW_MAX_IN_FLIGHT`` shadow calls at once per process; one drawn beyond
  that (or when its endpoint is at its ``max_in_flight``) is dropped and counted (``counts``), never queued.
  At shutdown the calls in flight get ``STOP_WAIT_SECONDS`` to finish (their results go out with the last
  flush), then are cancelled.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import time
from decimal import Decimal
from typing import TYPE_CHECKING

import structlog
from django.conf import settings

from gateway import metering
from gateway.errors import GatewayError, UpstreamError
from gateway.normal import ChatRequest
from gateway.providers import adapter_for
from gateway.routing import inflight
from gateway.usage import completion_text, ensure_usage

if TYPE_CHECKING:
    from gateway.metering import UsageEvent
    from gateway.pipeline.context import CallContext
    from gateway.providers.base import UpstreamTarget
    from registry.selectors import RouteTarget

log = structlog.get_logger("switchboard.gateway.shadow")

TEXT_CHARS = 20_000  # each answer is kept up to this many characters
STOP_WAIT_SECONDS = 5.0

_tasks: set[asyncio.Task] = set()  # held here so a running shadow call is not garbage-collected
counts: dict[str, int] = {"mirrored": 0, "failed": 0, "dropped": 0}


def pick(ctx: CallContext) -> RouteTarget | None:
    """The shadow route to mirror this call to (one draw against the shares), or None."""
    shadows = ctx.routing.shadows
    if not shadows or ctx.rule_matched or not isinstance(ctx.request, ChatRequest):
        # A routing rule chose this call's routes (often: where its data may go); a shadow is not one of them.
        return None
    point = random.random()
    for route in shadows:
        if point < route.shadow_sample:
            return route if route.endpoint_id in ctx.snapshot.targets else None  # no target: no secret to call it
        point -= route.shadow_sample
    return None


def mirror(ctx: CallContext, event: UsageEvent) -> None:
    """Start the shadow call of a call that answered (``event`` is its settled usage event); returns at once."""
    route = ctx.shadow_route
    if len(_tasks) >= settings.GATEWAY_SHADOW_MAX_IN_FLIGHT:
        _drop(route, "process_bound")
        return
    primary = metering.ShadowRecord(
        request_id=event.request_id, occurred_at=event.occurred_at, tenant_id=event.tenant_id, alias=event.alias,
        streamed=event.streamed, primary_endpoint_id=event.endpoint_id,
        primary_text=(ctx.answer_text or "")[:TEXT_CHARS], primary_ttfb_ms=event.ttfb_ms,
        primary_total_ms=event.total_ms, primary_prompt_tokens=event.prompt_tokens,
        primary_completion_tokens=event.completion_tokens, primary_cost=event.cost,
        shadow_endpoint_id=route.endpoint_id, shadow_text="", shadow_ms=0.0, shadow_prompt_tokens=0,
        shadow_completion_tokens=0, shadow_cost=Decimal(0), shadow_status=0)
    task = asyncio.get_running_loop().create_task(
        _shadow_call(primary, ctx.request, route, ctx.snapshot.targets[route.endpoint_id]),
        name=f"shadow-{event.request_id}")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def _drop(route: RouteTarget, reason: str) -> None:
    counts["dropped"] += 1
    if counts["dropped"] % 100 == 1:  # the first, then every hundredth: a saturated process does not flood the log
        log.warning("shadow_dropped", reason=reason, endpoint_id=route.endpoint_id, dropped=counts["dropped"])


async def _shadow_call(record: metering.ShadowRecord, request: ChatRequest, route: RouteTarget,
                       target: UpstreamTarget) -> None:
    """Call the shadow endpoint with a non-streamed copy of the request and queue the result beside the primary's."""
    from gateway.pipeline.finish import cost_of  # finish imports this module

    slot = await inflight.acquire(route.endpoint_id, route.max_in_flight, wait=0)
    if slot is None:
        _drop(route, "endpoint_at_capacity")
        return
    copy = dataclasses.replace(request, stream=False, include_usage=False)
    began = time.perf_counter()
    try:
        response = await adapter_for(target.provider_kind).chat(copy, target)
        ensure_usage(response, copy, target.upstream_model)
        record.shadow_text = completion_text(response)[:TEXT_CHARS]
        record.shadow_prompt_tokens = response.usage.prompt_tokens
        record.shadow_completion_tokens = response.usage.completion_tokens
        record.shadow_cost = cost_of(route, response.usage)
        record.shadow_status = 200
    except GatewayError as error:
        upstream = error.upstream_status if isinstance(error, UpstreamError) else None
        record.shadow_status = upstream or error.status
        record.shadow_error = error.code or type(error).__name__
    except Exception as error:  # an adapter's bug: recorded as the shadow's failure, never the caller's
        log.exception("shadow_call_crashed", endpoint_id=route.endpoint_id, request_id=record.request_id)
        record.shadow_status, record.shadow_error = 500, type(error).__name__
    finally:
        await slot.release()
    record.shadow_ms = round((time.perf_counter() - began) * 1000, 3)
    counts["mirrored" if record.shadow_status == 200 else "failed"] += 1
    metering.record_shadow(record)


def in_flight() -> int:
    """Shadow calls running in this process now."""
    return len(_tasks)


async def stop() -> None:
    """Give the shadow calls in flight ``STOP_WAIT_SECONDS`` to finish, then cancel the rest (lifespan shutdown)."""
    if not _tasks:
        return
    _, pending = await asyncio.wait(set(_tasks), timeout=STOP_WAIT_SECONDS)
    for task in pending:
        task.cancel()
    if pending:
        log.warning("shadow_calls_cancelled", count=len(pending))
