"""Which limits apply to a call, as plain data for the gateway's snapshot.

The rules (the README's "Plans and limits" says the same to users):

- Five levels can hold limits: the **key**, the **subscription** (an application's access to one
  alias), the **application**, the **tenant** (team) and the **alias** (all callers together: the
  model's own capacity). A call must fit every level that has a limit; each level counts on its own
  counters, keyed by its id, so editing a plan or a limit never resets what was already used.
- A key, a subscription and an application follow a plan when they name one; values set on the
  thing itself replace the plan's value for it. An application that names no plan follows the
  platform's default plan (``DEFAULT_PLAN``, seeded ``standard``), so every call has limits.
- A tenant and an alias have only their own values (no plan): caps above everything else.
- Budget mode and the behaviour when the shared limiter is unreachable are per level: the level's
  own setting, else its plan's. Shadow mode is per level too: counted and reported, never refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from types import MappingProxyType

from django.conf import settings

from portal.models import LimitLevel, LimitSettings, Plan
from portal.models.limits import BudgetMode, LimitValues, RedisFailure

NANO = Decimal(1_000_000_000)  # budgets are counted in nano-dollars, integers in Redis


@dataclass(frozen=True, slots=True)
class LimitRule:
    """The limits of one level for one caller, resolved; ``None`` is "no limit of this kind here"."""

    level: str  # key | subscription | application | tenant | alias
    owner_id: int
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None
    max_concurrency: int | None = None
    burst: int | None = None
    tokens_per_day: int | None = None
    tokens_per_month: int | None = None
    cost_per_day_nano: int | None = None
    cost_per_month_nano: int | None = None
    strict: bool = False
    fail_closed: bool = False
    shadow: bool = False
    default_output_tokens: int = 1024
    plan: str = ""
    # Derived once here, not on every call: the limiter reads both several times per call (hot path).
    counter: str = field(init=False, compare=False, repr=False)  # its counters' stable name (ids, never names)
    has_budget: bool = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counter", f"{self.level}:{self.owner_id}")
        object.__setattr__(self, "has_budget", any(v is not None for v in (
            self.tokens_per_day, self.tokens_per_month, self.cost_per_day_nano, self.cost_per_month_nano)))

    @property
    def is_empty(self) -> bool:
        return not self.has_budget and all(v is None for v in (
            self.requests_per_minute, self.tokens_per_minute, self.max_concurrency, self.burst))


def _nano(value: Decimal | None) -> int | None:
    return None if value is None else int(Decimal(value) * NANO)


def _merged(level: str, owner_id: int, own: LimitValues | None, plan: Plan | None) -> LimitRule:
    """``own`` values over ``plan`` values, as a rule of ``level``."""

    def pick(field: str):
        value = getattr(own, field, None) if own is not None else None
        return value if value is not None else (getattr(plan, field, None) if plan is not None else None)

    mode = (own.budget_mode if own is not None else "") or (plan.budget_mode if plan is not None else "")
    failure = (own.redis_failure if own is not None else "") or (plan.redis_failure if plan is not None else "")
    shadow = bool(own.shadow if own is not None else False) or bool(plan.shadow if plan is not None else False)
    return LimitRule(
        level=level, owner_id=owner_id,
        requests_per_minute=pick("requests_per_minute"), tokens_per_minute=pick("tokens_per_minute"),
        max_concurrency=pick("max_concurrency"), burst=pick("burst"),
        tokens_per_day=pick("tokens_per_day"), tokens_per_month=pick("tokens_per_month"),
        cost_per_day_nano=_nano(pick("cost_per_day")), cost_per_month_nano=_nano(pick("cost_per_month")),
        strict=mode == BudgetMode.STRICT, fail_closed=failure == RedisFailure.FAIL_CLOSED, shadow=shadow,
        default_output_tokens=plan.default_output_tokens if plan is not None else 1024,
        plan=plan.name if plan is not None else "",
    )


@dataclass(frozen=True, slots=True)
class LimitTable:
    """Every rule the gateway may need, by owner: looked up per call from the snapshot (dict reads only)."""

    keys: Mapping[int, LimitRule]
    subscriptions: Mapping[tuple[int, str], LimitRule]  # (application id, alias name)
    applications: Mapping[int, LimitRule]
    tenants: Mapping[int, LimitRule]
    aliases: Mapping[str, LimitRule]

    def rules_for(self, *, key_id: int, application_id: int, tenant_id: int, alias: str) -> tuple[LimitRule, ...]:
        """The rules one call must fit, most specific first."""
        found = (self.keys.get(key_id), self.subscriptions.get((application_id, alias)),
                 self.applications.get(application_id), self.tenants.get(tenant_id), self.aliases.get(alias))
        return tuple(rule for rule in found if rule is not None)


EMPTY_TABLE = LimitTable(keys=MappingProxyType({}), subscriptions=MappingProxyType({}),
                         applications=MappingProxyType({}), tenants=MappingProxyType({}),
                         aliases=MappingProxyType({}))


def default_plan() -> Plan | None:
    return Plan.objects.filter(name=settings.DEFAULT_PLAN).first()


def limit_table(*, key_ids: Iterable[int], application_ids: Iterable[int],
                subscriptions: Iterable[tuple[int, int, str]]) -> LimitTable:
    """The limit table for these keys, applications and subscriptions ``(subscription id, application id, alias)``.

    Three queries: the settings rows, the plans, nothing per row.
    """
    key_ids, application_ids, subscriptions = set(key_ids), set(application_ids), list(subscriptions)
    plans = {plan.pk: plan for plan in Plan.objects.all()}
    fallback = next((p for p in plans.values() if p.name == settings.DEFAULT_PLAN), None)
    rows = LimitSettings.objects.all()
    by_level: dict[str, dict[int, LimitSettings]] = {level: {} for level in LimitLevel.values}
    alias_names: dict[int, str] = {}
    for row in rows.select_related("alias"):
        by_level[row.level][row.owner_id] = row
        if row.level == LimitLevel.ALIAS:
            alias_names[row.alias_id] = row.alias.name

    def rule(level: str, owner_id: int, *, plan_default: Plan | None = None) -> LimitRule | None:
        own = by_level[level].get(owner_id)
        plan = plans.get(own.plan_id) if own is not None and own.plan_id else plan_default
        if own is None and plan is None:
            return None
        merged = _merged(level, owner_id, own, plan)
        return None if merged.is_empty and not merged.shadow else merged

    keys = {k: r for k in key_ids if (r := rule(LimitLevel.KEY, k)) is not None}
    applications = {a: r for a in application_ids
                    if (r := rule(LimitLevel.APPLICATION, a, plan_default=fallback)) is not None}
    subs = {(app_id, alias): r for sub_id, app_id, alias in subscriptions
            if (r := rule(LimitLevel.SUBSCRIPTION, sub_id)) is not None}
    tenants = {t: r for t in by_level[LimitLevel.TENANT] if (r := rule(LimitLevel.TENANT, t)) is not None}
    aliases = {alias_names[a]: r for a in by_level[LimitLevel.ALIAS] if (r := rule(LimitLevel.ALIAS, a)) is not None}
    return LimitTable(keys=MappingProxyType(keys), subscriptions=MappingProxyType(subs),
                      applications=MappingProxyType(applications), tenants=MappingProxyType(tenants),
                      aliases=MappingProxyType(aliases))


def period_spend(table: LimitTable, *, now: datetime | None = None) -> dict[tuple[str, str], tuple[int, int]]:
    """What the ledger holds for this UTC day and month, per level that has a budget:
    ``(counter, "YYYYMMDD" or "YYYYMM") → (tokens, cost in nano-dollars)``.

    Seeds the in-process limiter when the gateway starts (so a restart remembers the day's spend) and
    rebuilds the Redis counters after a Redis loss (``manage.py rebuild_limit_counters``). Four grouped
    queries per period, whatever the number of callers.
    """
    from django.db.models import Sum

    from portal.models import UsageEvent

    now = now or datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    levels = {
        "key": ("key_id", {r.owner_id for r in table.keys.values() if r.has_budget}),
        "application": ("application_id", {r.owner_id for r in table.applications.values() if r.has_budget}),
        "tenant": ("tenant_id", {r.owner_id for r in table.tenants.values() if r.has_budget}),
    }
    spend: dict[tuple[str, str], tuple[int, int]] = {}
    for start, period in ((day_start, now.strftime("%Y%m%d")), (month_start, now.strftime("%Y%m"))):
        events = UsageEvent.objects.filter(occurred_at__gte=start)
        for level, (column, owners) in levels.items():
            if not owners:
                continue
            rows = (events.filter(**{f"{column}__in": owners}).values(column)
                    .annotate(tokens=Sum("total_tokens"), cost=Sum("cost")))
            for row in rows:
                spend[(f"{level}:{row[column]}", period)] = (int(row["tokens"] or 0), int((row["cost"] or 0) * NANO))
        subscriptions = {(app, alias): r.owner_id for (app, alias), r in table.subscriptions.items() if r.has_budget}
        if subscriptions:
            rows = (events.filter(application_id__in={app for app, _ in subscriptions},
                                  alias__in={alias for _, alias in subscriptions})
                    .values("application_id", "alias").annotate(tokens=Sum("total_tokens"), cost=Sum("cost")))
            for row in rows:
                owner = subscriptions.get((row["application_id"], row["alias"]))
                if owner is not None:
                    spend[(f"subscription:{owner}", period)] = (int(row["tokens"] or 0),
                                                                int((row["cost"] or 0) * NANO))
    return spend
