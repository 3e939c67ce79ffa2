"""Step 7 — meter: one usage event per call, priced from the registry, queued off the request path."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

from gateway.errors import GatewayError
from gateway.metering import UsageEvent, record_usage
from gateway.normal import Usage
from gateway.pipeline.context import CallContext

_MILLION = Decimal(1_000_000)


def cost_of(ctx: CallContext, usage: Usage | None) -> Decimal:
    route = ctx.route
    if route is None or usage is None:
        return Decimal(0)
    return (
        route.input_price_per_mtok * usage.prompt_tokens / _MILLION
        + route.output_price_per_mtok * usage.completion_tokens / _MILLION
        + route.price_per_request
    )


def meter(ctx: CallContext, *, usage: Usage | None, status: int, streamed: bool = False,
          error: BaseException | None = None) -> None:
    """Queue the usage event of a call that reached routing (refusals before it are metered as refusals)."""
    if ctx.grant is None or ctx.routing is None:
        return
    now = time.perf_counter()
    record_usage(UsageEvent(
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
        streamed=streamed,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        total_tokens=usage.total_tokens if usage else 0,
        usage_source=usage.source if usage else "",
        cost=cost_of(ctx, usage),
        ttfb_ms=ctx.elapsed_ms(ctx.first_byte_at) if ctx.first_byte_at else None,
        total_ms=ctx.elapsed_ms(now),
        status=status,
        error_class=(getattr(error, "code", None) or type(error).__name__) if error is not None else "",
    ))


def status_of(error: BaseException) -> int:
    return error.status if isinstance(error, GatewayError) else 500
