"""Step 4 — route: the named alias must exist, be callable by this key, and have an endpoint to call."""

from __future__ import annotations

import random

from gateway.errors import BadRequestError, GoneError, NotFoundError, PermissionDeniedError, UpstreamUnavailableError
from gateway.metering import Refusal, record_refusal
from gateway.pipeline.context import CallContext
from registry.lifecycle import AliasNotCallable, AliasRetired, lifecycle_headers


def resolve_alias(ctx: CallContext, alias: str, *, kind: str) -> None:
    """Set ``ctx.routing`` (and lifecycle headers) for ``alias``, or raise 404 / 403 / 410 / 400."""
    routing = ctx.snapshot.routing.get(alias)
    if routing is None:
        raise NotFoundError(f"The model '{alias}' does not exist or you do not have access to it.", param="model")
    if alias not in ctx.grant.aliases:
        record_refusal(Refusal(reason="alias_not_subscribed", request_id=ctx.request_id, ip=ctx.client_ip,
                               key_prefix=ctx.grant.key_prefix, key_id=ctx.grant.key_id,
                               tenant_id=ctx.grant.tenant_id, alias=alias))
        raise PermissionDeniedError(
            f"Your application '{ctx.grant.application_name}' is not subscribed to '{alias}'. "
            "Request a subscription in the portal.", code="model_not_subscribed", param="model")
    try:
        ctx.response_headers.update(lifecycle_headers(routing))
    except AliasRetired as exc:
        raise GoneError(str(exc), param="model") from None
    except AliasNotCallable as exc:
        raise NotFoundError(str(exc), param="model") from None
    if routing.kind != kind:
        raise BadRequestError(f"'{alias}' is a {routing.kind} model; it cannot serve {kind}.", param="model",
                              code="model_kind_mismatch")
    ctx.routing = routing


def choose_route(ctx: CallContext) -> None:
    """Pick the endpoint: among the routes of the first fallback priority, by weight.

    The fallback and circuit-breaking issue extends this into an ordered list of candidates.
    """
    routes = [r for r in ctx.routing.routes if r.endpoint_id in ctx.snapshot.targets]
    if not routes:
        raise UpstreamUnavailableError(f"No endpoint is available for '{ctx.routing.name}' right now.")
    first = min(r.priority for r in routes)
    group = [r for r in routes if r.priority == first]
    route = group[0] if len(group) == 1 else random.choices(group, weights=[max(r.weight, 0) or 1 for r in group])[0]
    ctx.route = route
    ctx.target = ctx.snapshot.targets[route.endpoint_id]
