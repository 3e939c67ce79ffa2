"""Step 4 — route: the named alias must exist, be callable by this key, and have an endpoint to call."""

from __future__ import annotations

from gateway.errors import (
    BadRequestError,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    PolicyViolationError,
    UpstreamUnavailableError,
)
from gateway.metering import Refusal, record_refusal
from gateway.normal import ChatRequest, EmbeddingRequest
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.context import CallContext
from gateway.providers.demo import DEFAULT_DIMENSIONS
from gateway.routing import shadow
from gateway.routing.order import candidates, serving_routes
from gateway.state import state
from gateway.wire.openai import MAX_DIMENSIONS
from registry.lifecycle import AliasNotCallable, AliasRetired, lifecycle_headers
from registry.policy_spec import region_allowed
from registry.selectors_prompts import PromptNotFound, PublishedPrompt, resolve_in, split_reference


async def resolve_alias(ctx: CallContext, alias: str, *, kind: str) -> None:
    """Set ``ctx.routing`` (and lifecycle headers) for ``alias``, or raise 404 / 403 / 410 / 400.

    An alias unknown to this process, or not in the key's subscriptions, may have been added a moment
    ago: the configuration is checked once more (and the key with it) before the call is refused.
    """
    routing = ctx.snapshot.routing.get(alias)
    if (routing is None or alias not in ctx.grant.aliases) and (fresh := await state.caught_up(ctx.snapshot)) is not None:
        ctx.snapshot = fresh
        await authenticate(ctx)
        routing = fresh.routing.get(alias)
    if routing is None or (kind == "prompt" and routing.kind != "prompt"):
        noun = "prompt API" if kind == "prompt" else "model"
        raise NotFoundError(f"The {noun} '{alias}' does not exist or you do not have access to it.",
                            param="prompt" if kind == "prompt" else "model")
    if alias in ctx.grant.withheld:  # subscribed, but this key's own model list leaves it out
        record_refusal(Refusal(reason="alias_not_allowed_for_key", request_id=ctx.request_id, ip=ctx.client_ip,
                               key_prefix=ctx.grant.key_prefix, key_id=ctx.grant.key_id,
                               tenant_id=ctx.grant.tenant_id, alias=alias))
        raise PermissionDeniedError(
            f"API key {ctx.grant.key_prefix}… may not call '{alias}': it is limited to "
            f"{', '.join(sorted(ctx.grant.aliases)) or 'no model'}. Use a key that names it, or create one.",
            code="model_not_allowed_for_key", param="model")
    if alias not in ctx.grant.aliases:
        record_refusal(Refusal(reason="alias_not_subscribed", request_id=ctx.request_id, ip=ctx.client_ip,
                               key_prefix=ctx.grant.key_prefix, key_id=ctx.grant.key_id,
                               tenant_id=ctx.grant.tenant_id, alias=alias))
        raise PermissionDeniedError(
            f"Your application '{ctx.grant.application_name}' is not subscribed to '{alias}'. "
            "Request a subscription in the portal.", code="model_not_subscribed", param="model")
    _check_callable(ctx, routing, alias, kind=kind)
    ctx.routing = routing


def _check_callable(ctx: CallContext, routing, alias: str, *, kind: str) -> None:
    """The alias still answers (lifecycle headers set; 410 retired) and serves ``kind`` (400 otherwise)."""
    try:
        ctx.response_headers.update(lifecycle_headers(routing))
    except AliasRetired as exc:
        raise GoneError(str(exc), param="model") from None
    except AliasNotCallable as exc:
        raise NotFoundError(str(exc), param="model") from None
    if routing.kind == "prompt" and kind != "prompt":
        raise BadRequestError(f"'{alias}' is a prompt API, not a model: call POST /v1/prompts/{alias} with its "
                              "variables.", param="model", code="model_kind_mismatch")
    if routing.kind != kind:
        raise BadRequestError(f"'{alias}' is a {routing.kind} model; it cannot serve {kind}.", param="model",
                              code="model_kind_mismatch")


async def resolve_prompt(ctx: CallContext, reference: str) -> PublishedPrompt:
    """The published version ``reference`` names, for a key subscribed to the prompt API (404 / 403 as for a
    model), with ``ctx.routing`` set to the model that version calls: the prompt's subscription covers it
    (its publisher chose the model), so only that it still answers chat is checked."""
    try:
        slug, pin = split_reference(reference)
    except PromptNotFound as exc:
        raise NotFoundError(exc.message, param="prompt") from None
    await resolve_alias(ctx, slug, kind="prompt")
    try:
        version = resolve_in(ctx.snapshot.prompts, slug, pin)
    except PromptNotFound as exc:
        raise NotFoundError(exc.message, param="prompt") from None
    routing = ctx.snapshot.routing.get(version.alias)
    if routing is None:
        raise UpstreamUnavailableError(f"The model of {slug}@{version.number} ('{version.alias}') is not in "
                                       "service: its owners must publish a version on another model.")
    _check_callable(ctx, routing, version.alias, kind="chat")
    ctx.routing = routing
    return version


def check_request_fits(ctx: CallContext, request: ChatRequest | EmbeddingRequest, *,
                       max_tokens_param: str | None = None) -> None:
    """400 naming the field when a size the caller asked for is more than every endpoint of the alias supports.

    The wire parsers already refuse absurd values; this narrows them to the alias: output tokens to the
    smallest known context window among its routes, embedding dimensions to the endpoints' native size
    (``dimensions`` in the endpoint's provider config). Cost: a loop over the alias's few routes.
    """
    routes = serving_routes(ctx.routing)
    if isinstance(request, ChatRequest):
        windows = [r.context_window for r in routes if r.context_window]
        if request.max_tokens is not None and windows and request.max_tokens > min(windows):
            field = max_tokens_param or (request.max_tokens_field if request.extra_format == "openai" else "max_tokens")
            raise BadRequestError(
                f"Invalid '{field}': {request.max_tokens} is more than '{ctx.routing.name}' supports "
                f"(at most {min(windows)} tokens).", code="invalid_value", param=field)
    elif request.dimensions is not None and routes:
        ceiling = min(_native_dimensions(r) for r in routes)
        if request.dimensions > ceiling:
            raise BadRequestError(
                f"Invalid 'dimensions': {request.dimensions} is more than '{ctx.routing.name}' supports "
                f"(at most {ceiling}).", code="invalid_value", param="dimensions")


def _native_dimensions(route) -> int:
    configured = route.provider_config.get("dimensions")
    if isinstance(configured, int) and configured > 0:
        return configured
    return DEFAULT_DIMENSIONS if route.provider_kind == "demo" else MAX_DIMENSIONS


def choose_route(ctx: CallContext) -> None:
    """Step 4: the endpoints this call may try, first choice first, by the alias's strategy
    (``gateway.routing.order``); the call step falls back along them. And the shadow route, if this call
    is drawn to be mirrored to one (``gateway.routing.shadow``)."""
    ctx.dedicated_route = ctx.snapshot.dedicated.get((ctx.grant.tenant_id, ctx.routing.name))
    ctx.candidates = candidates(ctx)
    ctx.shadow_route = shadow.pick(ctx)
    if ctx.guard is not None and ctx.guard.effective.residency is not None:
        _keep_in_regions(ctx, ctx.guard.effective.residency)


def _keep_in_regions(ctx: CallContext, allowed: frozenset[str]) -> None:
    """Residency: only endpoints in the regions the policies allow, fallback and shadow included; else fail closed.

    403 naming the policies when the alias has no endpoint there at all; 503 when it has, but none is
    available now (their circuits open, or their secrets unresolvable).
    """
    ctx.candidates = [r for r in ctx.candidates if region_allowed(r.region, allowed)]
    if ctx.shadow_route is not None and not region_allowed(ctx.shadow_route.region, allowed):
        ctx.shadow_route = None
    if ctx.candidates:
        return
    policies = ", ".join(f"'{name}'" for name in ctx.guard.effective.residency_policies)
    regions = ", ".join(sorted(allowed)) or "no region"
    routes = [*serving_routes(ctx.routing), *([ctx.dedicated_route] if ctx.dedicated_route else [])]
    if any(region_allowed(r.region, allowed) for r in routes):
        raise UpstreamUnavailableError(
            f"No endpoint of '{ctx.routing.name}' in the regions policy {policies} allows ({regions}) is available "
            "right now.", headers={"retry-after": "1"})
    raise PolicyViolationError(
        f"Policy {policies} keeps this call's data in {regions}, and '{ctx.routing.name}' has no endpoint there.",
        param="model")
