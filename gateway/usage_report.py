"""``GET /v1/usage``: the calling key's limits, what is left of each, and what it used this period per alias.

Not on the hot path: the counters come from the limiter (one pipelined round trip), the
per-alias consumption from the ledger (two grouped queries in a thread), which is about a second
behind the gateway.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import orjson
from asgiref.sync import sync_to_async
from django.db import close_old_connections

from gateway.limits import Periods
from gateway.limits.limiter import limiter
from gateway.pipeline.context import CallContext
from portal.limits import NANO, LimitRule

_LIMIT_FIELDS = ("requests_per_minute", "tokens_per_minute", "max_concurrency", "burst", "tokens_per_day",
                 "tokens_per_month")


def _dollars(nano: int | None) -> str | None:
    return None if nano is None else str((Decimal(nano) / NANO).quantize(Decimal("0.000001")))


def _left(limit: int | None, used: int) -> int | None:
    return None if limit is None else max(limit - used, 0)


def _level(rule: LimitRule, used: dict[str, int]) -> dict:
    limits = {name: getattr(rule, name) for name in _LIMIT_FIELDS}
    limits["cost_per_day"] = _dollars(rule.cost_per_day_nano)
    limits["cost_per_month"] = _dollars(rule.cost_per_month_nano)
    remaining = {
        "requests_this_minute": _left(rule.requests_per_minute, used["requests_this_minute"]),
        "tokens_this_minute": _left(rule.tokens_per_minute, used["tokens_this_minute"]),
        "concurrent_requests": _left(rule.max_concurrency, used["in_flight"]),
        "tokens_today": _left(rule.tokens_per_day, used["tokens_today"]),
        "tokens_this_month": _left(rule.tokens_per_month, used["tokens_this_month"]),
        "cost_today": _dollars(_left(rule.cost_per_day_nano, used["cost_today_nano"])),
        "cost_this_month": _dollars(_left(rule.cost_per_month_nano, used["cost_this_month_nano"])),
    }
    return {"level": rule.level, "id": rule.owner_id, "plan": rule.plan or None,
            "budget_mode": "strict" if rule.strict else "soft", "shadow": rule.shadow,
            "limits": limits, "remaining": remaining,
            "used": {"tokens_today": used["tokens_today"], "cost_today": _dollars(used["cost_today_nano"]),
                     "tokens_this_month": used["tokens_this_month"],
                     "cost_this_month": _dollars(used["cost_this_month_nano"])}}


def _consumption(key_id: int) -> dict[str, dict]:
    from django.db.models import Count, Q, Sum

    from portal.models import UsageEvent

    try:
        now = datetime.now(UTC)
        starts = {"today": now.replace(hour=0, minute=0, second=0, microsecond=0),
                  "this_month": now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)}
        out: dict[str, dict] = {}
        for period, start in starts.items():
            rows = (UsageEvent.objects.filter(key_id=key_id, occurred_at__gte=start).values("alias")
                    .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)),
                              prompt_tokens=Sum("prompt_tokens"), completion_tokens=Sum("completion_tokens"),
                              cost=Sum("cost")))
            for row in rows:
                out.setdefault(row["alias"], {})[period] = {
                    "requests": row["requests"], "errors": row["errors"],
                    "prompt_tokens": row["prompt_tokens"] or 0, "completion_tokens": row["completion_tokens"] or 0,
                    "cost": str((row["cost"] or Decimal(0)).quantize(Decimal("0.000001")))}
        return out
    finally:
        close_old_connections()


async def _peek(source, rules, periods) -> list[dict[str, int]]:
    if source is not limiter.shared:
        return source.peek(rules, periods)
    try:
        return await source.peek(rules, periods)
    except Exception:  # Redis unreachable: what this process's fallback counted, rather than an error
        return limiter.fallback.peek(rules, periods)


async def render_usage(ctx: CallContext) -> bytes:
    grant = ctx.grant
    periods = Periods.at()
    source = limiter.shared if limiter.shared is not None else limiter.local
    aliases = []
    consumption = await sync_to_async(_consumption, thread_sensitive=False)(grant.key_id)
    for alias in sorted(grant.aliases | set(consumption)):
        rules = ctx.snapshot.limits.rules_for(key_id=grant.key_id, application_id=grant.application_id,
                                              tenant_id=grant.tenant_id, alias=alias)
        used = await _peek(source, rules, periods)
        aliases.append({"model": alias, "subscribed": alias in grant.aliases,
                        "usage": consumption.get(alias, {}),
                        "limits": [_level(rule, u) for rule, u in zip(rules, used, strict=True)]})
    return orjson.dumps({
        "object": "usage",
        "key": {"id": grant.key_id, "prefix": grant.key_prefix, "application": grant.application_name,
                "team": grant.tenant_slug},
        "period": {"day": periods.day, "month": periods.month,
                   "day_resets_in_seconds": periods.day_reset_ms // 1000,
                   "month_resets_in_seconds": periods.month_reset_ms // 1000},
        "models": aliases,
    })
