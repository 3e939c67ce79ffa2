"""Counting a chat request's input tokens without calling the model (``/v1/messages/count_tokens``, and the
Responses API's ``/v1/responses/input_tokens``).

The count is for the alias's first serving endpoint, the one a call would try first with no circuit open:
an Anthropic upstream is asked its own count (its tokenizer is not public); any other, or an Anthropic one
that fails to answer, is counted with the gateway's offline tokenizer (``gateway.tokens``), as usage is
when a provider reports none. It is not a model call: no usage event, nothing charged against the limits.
When a guardrail policy applies to the caller, the prompt is counted offline only: sending it to a provider
would skip the masking and residency the policy asks of every text that leaves the gateway.
"""

from __future__ import annotations

import structlog

from gateway import tokens
from gateway.errors import GatewayError
from gateway.normal import ChatRequest
from gateway.pipeline.context import CallContext
from gateway.pipeline.guard import effective_for
from gateway.providers import anthropic
from gateway.routing.order import serving_routes
from guardrails.effective import NOTHING

log = structlog.get_logger("switchboard.gateway")


async def count_input_tokens(ctx: CallContext, request: ChatRequest) -> int:
    """The input tokens of ``request`` on ``ctx.routing`` (resolved already), as its first serving endpoint counts.

    Never raises for the provider's sake: an Anthropic count that fails falls back to the tokenizer.
    """
    targets = ctx.snapshot.targets
    route = next((r for r in serving_routes(ctx.routing) if r.endpoint_id in targets), None)
    if route is None:  # no endpoint can be called right now: count as the alias's first route would
        routes = serving_routes(ctx.routing)
        return tokens.count_prompt(request, routes[0].upstream_model if routes else request.model)[0]
    target = targets[route.endpoint_id]
    if target.provider_kind == "anthropic" and effective_for(ctx) is NOTHING:
        try:
            return await anthropic.count_tokens(request, target)
        except GatewayError as error:
            log.warning("count_tokens_upstream_failed", request_id=ctx.request_id, endpoint_id=route.endpoint_id,
                        error=error.code or type(error).__name__)
    return tokens.count_prompt(request, target.upstream_model or request.model)[0]
