"""Which endpoints a call may try, in the order it tries them: the alias's strategy, applied to its routes.

``candidates()`` is step 4 of the pipeline. It returns every route the call may fall back to, first
choice first; the attempt loop (``gateway.pipeline.call``) walks the list. What it leaves out:
shadow routes (they never serve callers), endpoints the snapshot has no target for (an unresolvable
secret), routes lacking a capability the request needs (tools, images, a JSON schema) or too small for
the prompt when another route has it or fits, and endpoints whose circuit is open
(skipped, never waited on). A team with approved dedicated hosting for the alias tries its dedicated
endpoint first.

Strategies (``AliasRouting.strategy``):
- ``weighted``: a weighted draw among the routes of the lowest priority (a canary split), then the rest
  of that priority by weight, then the next priorities. With ``sticky`` the draw is a hash of the
  application or of the request's ``user``, so a caller stays on one variant (A/B).
- ``priority``: strict order: priority, then weight.
- ``least-latency``: the lowest moving-window time to first byte first; an endpoint not yet measured
  counts as fastest, so it gets measured, and one call in twenty tries another route first, so a route
  that was slow and recovered is measured again.
- ``least-cost``: the cheapest at the registry's prices for this call's estimated tokens first.
- ``rules``: the first rule that matches the caller (team, region, environment, data classification),
  the request (capabilities it needs, prompt length) names the routes, in order; no rule matches: every
  route in priority order. A matching rule's routes are the only ones tried: a rule often says where data
  may go, and falling back outside it would break that.

Cost: a pass over the alias's few routes; no I/O (breaker state and latency windows are in memory).
"""

from __future__ import annotations

import hashlib
import random
from decimal import Decimal
from typing import TYPE_CHECKING

from gateway import tokens
from gateway.normal import ChatRequest, EmbeddingRequest, ImagePart
from gateway.routing.health import health

if TYPE_CHECKING:
    from gateway.pipeline.context import CallContext
    from registry.selectors import AliasRouting, RouteTarget

_MILLION = Decimal(1_000_000)


def serving_routes(routing: AliasRouting) -> list[RouteTarget]:
    """The routes that serve callers (shadow routes only mirror traffic)."""
    return [r for r in routing.routes if not r.shadow_sample]


def candidates(ctx: CallContext) -> list[RouteTarget]:
    """The routes to try for this call, first choice first (may be empty: nothing can serve it now)."""
    routing, targets = ctx.routing, ctx.snapshot.targets
    routes = [r for r in routing.routes if not r.shadow_sample and r.endpoint_id in targets]
    routes = _fitting(ctx, _capable(ctx, routes))
    strategy = routing.strategy
    if strategy == "rules":
        ordered = _by_rules(ctx, routes)
    elif strategy == "priority":
        ordered = routes  # the snapshot keeps routes in (priority, -weight) order
    elif strategy == "least-latency":
        ordered = _explore(sorted(routes, key=lambda r: (health.latency_ms(r.endpoint_id) or 0.0, r.priority)))
    elif strategy == "least-cost":
        ordered = sorted(routes, key=lambda r: (_estimated_cost(ctx, r), r.priority))
    else:
        ordered = _weighted(ctx, routes)
    dedicated = ctx.dedicated_route
    if dedicated is not None and dedicated.endpoint_id in targets:
        ordered = [dedicated, *(r for r in ordered if r.endpoint_id != dedicated.endpoint_id)]
    return [r for r in ordered if health.available(r.endpoint_id)]  # the try itself takes a half-open probe


# Least-latency sends this share of calls to another route first, so a route that was slow and recovered is
# measured again (otherwise its old figure would keep it out until the window forgets it).
_EXPLORE_SHARE = 0.05


def _explore(ordered: list[RouteTarget]) -> list[RouteTarget]:
    if len(ordered) > 1 and random.random() < _EXPLORE_SHARE:
        ordered.insert(0, ordered.pop(random.randrange(1, len(ordered))))
    return ordered


def _weighted(ctx: CallContext, routes: list[RouteTarget]) -> list[RouteTarget]:
    if len(routes) < 2:
        return routes
    first = routes[0].priority
    group = [r for r in routes if r.priority == first]
    if len(group) == 1:
        return routes
    weights = [max(r.weight, 0) for r in group]
    if not any(weights):
        weights = [1] * len(group)
    chosen = _draw(group, weights, _sticky_point(ctx))
    rest = [r for r in routes if r is not chosen]
    return [chosen, *rest]


def _draw(group: list[RouteTarget], weights: list[int], point: float | None) -> RouteTarget:
    """A weighted pick; ``point`` in [0, 1) makes it deterministic (the same caller, the same route)."""
    if point is None:
        return random.choices(group, weights=weights)[0]
    target = point * sum(weights)
    for route, weight in zip(group, weights, strict=True):
        if target < weight:
            return route
        target -= weight
    return group[-1]


def _sticky_point(ctx: CallContext) -> float | None:
    sticky = ctx.routing.sticky
    if not sticky:
        return None
    if sticky == "user":
        user = getattr(ctx.request, "user", None)
        if not user:
            return None  # no end user named: nothing to stick to, so an ordinary draw
        subject = f"u:{ctx.grant.application_id}:{user}"
    else:
        subject = f"a:{ctx.grant.application_id}"
    digest = hashlib.blake2b(f"{ctx.routing.name}|{subject}".encode(), digest_size=8).digest()
    return int.from_bytes(digest) / 2**64


def _by_rules(ctx: CallContext, routes: list[RouteTarget]) -> list[RouteTarget]:
    grant, request = ctx.grant, ctx.request
    needs = needs_of(request)
    prompt_tokens = prompt_tokens_of(ctx) if any(
        rule.min_prompt_tokens is not None or rule.max_prompt_tokens is not None for rule in ctx.routing.rules) else 0
    for rule in ctx.routing.rules:
        if rule.matches(tenant=grant.tenant_slug, region=grant.tenant_region, environment=grant.environment,
                        classification=grant.data_classification, needs=needs, prompt_tokens=prompt_tokens):
            ctx.rule_matched = True
            by_id = {r.endpoint_id: r for r in routes}
            return [by_id[endpoint_id] for endpoint_id in rule.endpoint_ids if endpoint_id in by_id]
    return routes


def needs_of(request: ChatRequest | EmbeddingRequest | None) -> frozenset[str]:
    """What the request needs of an endpoint: tools, vision (an image part), json_schema."""
    if not isinstance(request, ChatRequest):
        return frozenset()
    needs = set()
    if request.tools:
        needs.add("tools")
    if request.response_format is not None and request.response_format.type == "json_schema":
        needs.add("json_schema")
    for message in request.messages:
        if not isinstance(message.content, str) and message.content and any(
                isinstance(part, ImagePart) for part in message.content):
            needs.add("vision")
            break
    return frozenset(needs)


def prompt_tokens_of(ctx: CallContext) -> int:
    """The call's estimated prompt tokens (the limits step's estimate when it made one)."""
    if ctx.prompt_tokens_estimate is None:
        request = ctx.request
        if isinstance(request, ChatRequest):
            text, messages, images = tokens.prompt_text(request)
            ctx.prompt_tokens_estimate = (tokens.estimate_tokens(text) + messages * 4 + 8
                                          + images * tokens.TOKENS_PER_IMAGE)
        elif isinstance(request, EmbeddingRequest):
            ctx.prompt_tokens_estimate = sum(
                tokens.estimate_tokens(item) if isinstance(item, str) else len(item) for item in request.input)
        else:
            ctx.prompt_tokens_estimate = 0
    return ctx.prompt_tokens_estimate


# What a request needs, as the registry names endpoint capabilities.
_CAPABILITY_OF_NEED = {"tools": "tools", "vision": "vision", "json_schema": "json_output"}


def _capable(ctx: CallContext, routes: list[RouteTarget]) -> list[RouteTarget]:
    """Routes whose endpoint declares what the request needs (tools, images, a JSON schema); all of them when
    none does (capabilities are often left undeclared: the upstream then decides)."""
    needs = needs_of(ctx.request)
    if not needs or len(routes) < 2:
        return routes
    wanted = {_CAPABILITY_OF_NEED[need] for need in needs}
    capable = [r for r in routes if wanted <= r.capabilities]
    return capable or routes


def _fitting(ctx: CallContext, routes: list[RouteTarget]) -> list[RouteTarget]:
    """Routes whose context window holds the prompt and the asked-for output; all of them when none does
    (the upstream then says why) or when no route has a known window."""
    if not isinstance(ctx.request, ChatRequest) or not any(r.context_window for r in routes):
        return routes
    needed = prompt_tokens_of(ctx) + (ctx.request.max_tokens or 0)
    fitting = [r for r in routes if not r.context_window or r.context_window >= needed]
    return fitting or routes


def _estimated_cost(ctx: CallContext, route: RouteTarget) -> Decimal:
    prompt = prompt_tokens_of(ctx)
    output = getattr(ctx.request, "max_tokens", None) or 256
    return (route.input_price_per_mtok * prompt / _MILLION + route.output_price_per_mtok * output / _MILLION
            + route.price_per_request)


def endpoint_label(route: RouteTarget) -> str:
    """How responses and reports name an endpoint: ``provider/upstream-model``."""
    return f"{route.provider_name}/{route.upstream_model}"


def variant_of(route: RouteTarget) -> str:
    """The A/B variant a call was served by: the route's label, else its endpoint's."""
    return route.variant or endpoint_label(route)
