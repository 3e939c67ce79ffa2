"""Step 7 — the one end of every attributed call: meter it and settle its limits, exactly once.

Whatever path the call took (answer, refusal by a limit, upstream error, stream cut short, the
caller gone), it ends here, once: one usage event priced from the registry's prices of the
endpoint that served it, the limiter charged with the actual use and released of what admission
held, and the event made durable (Redis stream or journal) before the response ends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import structlog
from django.conf import settings

from gateway import metering
from gateway.errors import GatewayError
from gateway.limits.limiter import limiter
from gateway.metering import UsageEvent
from gateway.normal import Usage
from gateway.pipeline.context import CallContext
from gateway.routing import shadow
from gateway.routing.order import variant_of
from portal.limits import NANO
from registry.selectors import RouteTarget

log = structlog.get_logger("switchboard.gateway")

_MILLION = Decimal(1_000_000)


def cost_of(route: RouteTarget | None, usage: Usage | None) -> Decimal:
    """The call's price at the endpoint that served it (a fallback to a dearer one is charged its price)."""
    if route is None or usage is None:
        return Decimal(0)
    return (route.input_price_per_mtok * usage.prompt_tokens / _MILLION
            + route.output_price_per_mtok * usage.completion_tokens / _MILLION
            + route.price_per_request)


def status_of(error: BaseException) -> int:
    return error.status if isinstance(error, GatewayError) else 500


def usage_event(ctx: CallContext, cost: Decimal) -> UsageEvent:
    usage, error = ctx.usage, ctx.error
    return UsageEvent(
        request_id=ctx.request_id,
        client_request_id=ctx.client_request_id,
        occurred_at=datetime.now(UTC),
        tenant_id=ctx.grant.tenant_id,
        application_id=ctx.grant.application_id,
        key_id=ctx.grant.key_id,
        alias=ctx.routing.name,
        endpoint_id=ctx.route.endpoint_id if ctx.route else None,
        provider_kind=ctx.route.provider_kind if ctx.route else "",
        operation=ctx.operation,
        streamed=ctx.streamed,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_tokens=usage.total_tokens if usage else 0,
        usage_source=usage.source if usage else "",
        cost=cost,
        ttfb_ms=ctx.elapsed_ms(ctx.first_byte_at) if ctx.first_byte_at else None,
        total_ms=ctx.elapsed_ms(time.perf_counter()),
        status=ctx.status,
        error_class=(getattr(error, "code", None) or type(error).__name__) if error is not None else "",
        shadow_limits=ctx.admission.shadow if ctx.admission is not None else "",
        variant=variant_of(ctx.route) if ctx.route else "",
        attempt_count=len(ctx.attempts) or 1,
        attempts=ctx.attempts if len(ctx.attempts) > 1 else None,
        guard=ctx.guard_record or None, payload=ctx.payload_record,
        batch_id=ctx.batch_line.batch_id if ctx.batch_line is not None else "",
        prompt=ctx.prompt.slug if ctx.prompt is not None else "",
        prompt_version=ctx.prompt.version if ctx.prompt is not None else None,
    )


async def finish(ctx: CallContext) -> None:
    """Record and settle the call once; later calls for the same context do nothing.

    Calls refused before they were attributed to a key and an alias (bad key, unknown model, ...)
    are not usage: they are audited as refusals where they were refused.
    """
    if ctx.finished or ctx.grant is None or ctx.routing is None:
        return
    ctx.finished = True
    cost = cost_of(ctx.route, ctx.usage)
    if ctx.batch_line is not None and ctx.routing.batch_discount_percent:
        cost = cost * (100 - ctx.routing.batch_discount_percent) / 100
    ctx.cost = cost
    event = usage_event(ctx, cost)
    if not settings.GATEWAY_GOVERNANCE:  # the bench's baseline: in memory until the next flush
        metering.queue_usage(event)
    else:
        try:
            await limiter.settle(ctx.admission, tokens=event.total_tokens, cost_nano=int(cost * NANO),
                                 event=metering.event_bytes(event), rules=(), journal=metering.journal)
        except Exception:  # even the journal failed (disk full): say so loudly, with what was lost
            log.exception("usage_event_lost", request_id=ctx.request_id, alias=event.alias, cost=str(cost))
            return
        metering.note_recorded()
    if ctx.shadow_route is not None and ctx.status == 200:
        shadow.mirror(ctx, event)  # returns at once: the shadow runs in the background, on the platform's account
