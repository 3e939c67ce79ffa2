"""Step 2 — limits: the call must fit every level that applies (key, subscription, application, team, model).

One round trip to the limiter (``gateway.limits.limiter``): it reserves the call's tokens (the
prompt estimate plus its maximum output) and, for strict budgets, its maximum cost, and answers
with the figures for the rate-limit headers. Over a limit: 429 with ``Retry-After``; a budget
spent: 429 ``insufficient_quota`` / ``budget_exceeded`` with ``x-should-retry: false``.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from gateway import tokens
from gateway.errors import BudgetExceededError, LimiterUnavailableError, RateLimitError
from gateway.limits import Admission, Demand, LimiterUnavailable
from gateway.limits.limiter import limiter
from gateway.normal import ChatRequest, EmbeddingRequest, Usage
from gateway.pipeline.context import CallContext
from gateway.pipeline.finish import cost_of
from gateway.routing.order import serving_routes
from portal.limits import NANO, LimitRule

_OVERHEAD_PER_MESSAGE = 8  # tokens: generous against every provider's per-message framing

_WHAT = {
    "requests_per_minute": "requests per minute", "tokens_per_minute": "tokens per minute",
    "max_concurrency": "concurrent requests", "burst": "burst of requests",
    "tokens_per_day": "daily token budget", "tokens_per_month": "monthly token budget",
    "cost_per_day": "daily spend budget", "cost_per_month": "monthly spend budget",
}
_LEVEL = {"key": "API key", "subscription": "subscription", "application": "application", "tenant": "team",
          "alias": "model"}


def _prompt_size(request: ChatRequest | EmbeddingRequest, *, bound: bool) -> int:
    """Prompt tokens: an estimate (four characters a token), or with ``bound`` an upper bound (a token is at
    least one byte in every byte-level tokenizer)."""
    if isinstance(request, EmbeddingRequest):
        texts = [item if isinstance(item, str) else "x" * len(item) for item in request.input]
        size = sum(len(t.encode()) if bound else tokens.estimate_tokens(t) for t in texts)
        return size + (len(texts) if bound else 0)
    text, messages, images = tokens.prompt_text(request)
    size = len(text.encode()) if bound else tokens.estimate_tokens(text)
    return size + messages * _OVERHEAD_PER_MESSAGE + 8 + images * tokens.TOKENS_PER_IMAGE


def demand_of(ctx: CallContext, request: ChatRequest | EmbeddingRequest, rules: tuple[LimitRule, ...]) -> Demand:
    """What to reserve: prompt + maximum output tokens; for strict budgets also the dearest route's price of it.

    A strict budget promises never to be exceeded, so a chat call under one that sets no ``max_tokens`` is
    capped at the plan's output allowance (the reservation must bound what the upstream may produce).
    """
    strict = any(rule.strict and rule.has_budget for rule in rules)
    output = 0
    if isinstance(request, ChatRequest):
        allowance = rules[0].default_output_tokens
        if request.max_tokens is None and strict:
            request.max_tokens = allowance
        output = (request.max_tokens or allowance) * max(request.n, 1)
    prompt = _prompt_size(request, bound=strict)
    if not strict:
        ctx.prompt_tokens_estimate = prompt  # routing reuses it (context windows, rules, least-cost)
    max_cost = 0
    if strict:
        # The dearest route a fallback could land on; shadow routes are never charged to the caller.
        most = Usage.of(prompt, output, "estimate")
        max_cost = math.ceil(max((cost_of(route, most) for route in serving_routes(ctx.routing)),
                                 default=Decimal(0)) * NANO)
    return Demand(request_id=ctx.request_id, reserve_tokens=prompt + output, max_cost_nano=max_cost)


async def admit(ctx: CallContext, request: ChatRequest | EmbeddingRequest) -> None:
    """Admit the call or raise 429 / 503; sets the rate-limit headers either way."""
    if not settings.GATEWAY_GOVERNANCE:
        return
    grant = ctx.grant
    rules = ctx.snapshot.limits.rules_for(key_id=grant.key_id, application_id=grant.application_id,
                                          tenant_id=grant.tenant_id, alias=ctx.routing.name)
    ctx.rules = rules
    if not rules:
        return
    try:
        admission = await limiter.admit(rules, demand_of(ctx, request, rules))
    except LimiterUnavailable:
        raise LimiterUnavailableError(
            "Rate limiting is unavailable right now and this key's limits do not allow calls without it. "
            "Retry shortly.", headers={"retry-after": "1"}) from None
    ctx.admission = admission
    headers = rate_limit_headers(admission, style=ctx.style)
    if admission.shadow:
        headers["x-ratelimit-shadow"] = admission.shadow
    ctx.response_headers.update(headers)
    if not admission.admitted:
        raise refusal(admission)


def refusal(admission: Admission) -> RateLimitError | BudgetExceededError:
    rule, what = admission.refused_by, admission.refused_what
    level = f"{_LEVEL.get(rule.level, rule.level)}" + (f" (plan '{rule.plan}')" if rule.plan else "")
    retry_s = max(1, math.ceil(admission.retry_after_ms / 1000))
    headers = {"retry-after": str(retry_s), "retry-after-ms": str(max(admission.retry_after_ms, 1))}
    if admission.is_budget:
        headers["x-should-retry"] = "false"
        period = "day" if what.endswith("_day") else "month"
        return BudgetExceededError(
            f"The {_WHAT[what]} of this {level} is spent; it resets at the start of the next {period} (UTC). "
            "Ask your team's admin to raise it in the portal.", headers=headers)
    return RateLimitError(
        f"Rate limit reached: the {level}'s limit of {_WHAT.get(what, what)}. Retry after {retry_s} s.",
        headers=headers)


def openai_duration(ms: int) -> str:
    """A reset time the way OpenAI writes it: ``20ms``, ``1s``, ``17.5s``, ``6m0s``, ``1h2m3s``."""
    if ms < 1000:
        return f"{max(ms, 0)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{hours}h" if hours else "") + f"{minutes}m{secs}s"


def rate_limit_headers(admission: Admission, *, style: str) -> dict[str, str]:
    """OpenAI's ``x-ratelimit-*`` headers, or Anthropic's ``anthropic-ratelimit-*`` on ``/v1/messages``."""
    headers: dict[str, str] = {}
    pairs = (("requests", admission.request_limit, admission.requests_remaining, admission.requests_reset_ms),
             ("tokens", admission.token_limit, admission.tokens_remaining, admission.tokens_reset_ms))
    for name, limit, remaining, reset_ms in pairs:
        if limit < 0:
            continue
        if style == "anthropic":
            at = datetime.now(UTC) + timedelta(milliseconds=reset_ms)
            headers[f"anthropic-ratelimit-{name}-limit"] = str(limit)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(max(remaining, 0))
            headers[f"anthropic-ratelimit-{name}-reset"] = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            headers[f"x-ratelimit-limit-{name}"] = str(limit)
            headers[f"x-ratelimit-remaining-{name}"] = str(max(remaining, 0))
            headers[f"x-ratelimit-reset-{name}"] = openai_duration(reset_ms)
    return headers
