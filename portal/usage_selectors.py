"""Reading usage: a team's consumption against its limits, spend over time, top callers and errors; the
platform's spend by team and by cost centre (the monthly chargeback).

Where the figures come from. Whole hours that the rollup task has finished are read from the hourly
rollups (``UsageRollup``); everything else (the current hour, the edges of a range that does not start
or end on the hour, and any hour the task has not reached yet) from the raw ledger (``UsageEvent``).
The boundary is the end of the newest hourly rollup, never later than the start of the previous hour
(the task is still rebuilding the last two), so a call is counted once and none is missed while the task
is behind or has never run. A late event in an
hour already rolled up shows once the reconciliation task repairs that hour. Errors by status and error
class exist only in the raw ledger, so that breakdown covers ``USAGE_RETENTION_DAYS``; error counts and
rates come from both. All periods are in UTC, like the gateway's budget days and months.

Tenant isolation is in the query layer: every query starts from ``UsageEvent.objects.for_user(viewer)``
or from rollups of ``Tenant.objects.for_user(viewer)`` (``UsageScope``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Max, Q, QuerySet, Sum
from django.db.models.functions import TruncDay, TruncHour
from django.utils import timezone

from aiplatform.models import Tenant
from portal.limits import NANO, LimitRule, limit_table
from portal.models import ApiKey, Application, Subscription, SubscriptionStatus, UsageEvent, UsageRollup

HOUR, DAY = "hour", "day"
TOP = 10
NINE_PLACES = Decimal("0.000000001")  # the ledger's precision (SQLite sums come back with float noise)
_FIELD = {"tenant": "tenant_id", "application": "application_id", "key": "key_id", "alias": "alias"}


# --- periods --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Period:
    """A half-open range of time, ``[since, until)``, in UTC."""

    since: datetime
    until: datetime

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        start = datetime(year, month, 1, tzinfo=UTC)
        return cls(start, datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC))

    @classmethod
    def month_of(cls, moment: datetime) -> Period:
        moment = moment.astimezone(UTC)
        return cls.month(moment.year, moment.month)

    @classmethod
    def day_of(cls, moment: datetime) -> Period:
        start = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return cls(start, start + timedelta(days=1))

    @property
    def label(self) -> str:
        return f"{self.since:%Y-%m}"


def _floor(moment: datetime, granularity: str) -> datetime:
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if granularity == DAY else moment


def _ceil(moment: datetime, granularity: str) -> datetime:
    floor = _floor(moment, granularity)
    return floor if floor == moment else floor + (timedelta(days=1) if granularity == DAY else timedelta(hours=1))


def buckets(period: Period, granularity: str) -> list[datetime]:
    """The start of every hour or day that overlaps ``period``."""
    step = timedelta(days=1) if granularity == DAY else timedelta(hours=1)
    start, out = _floor(period.since, granularity), []
    while start < period.until:
        out.append(start)
        start += step
    return out


# --- totals ---------------------------------------------------------------------------------------

@dataclass(slots=True)
class Totals:
    """What some calls consumed."""

    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = Decimal(0)

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def error_rate(self) -> float:
        """Share of calls that failed (status 400 and up), 0 to 1."""
        return self.errors / self.requests if self.requests else 0.0

    def add(self, other: Totals) -> None:
        self.requests += other.requests
        self.errors += other.errors
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.cost += other.cost


def _sum(totals: Iterable[Totals]) -> Totals:
    out = Totals()
    for item in totals:
        out.add(item)
    return out


@dataclass(frozen=True, slots=True)
class UsageScope:
    """The ledger rows and rollups a query may read, already narrowed to what the viewer may see."""

    tenants: QuerySet[Tenant]
    events: QuerySet[UsageEvent]
    rollups: QuerySet[UsageRollup]


def platform_scope(*, viewer) -> UsageScope:
    """Every team's usage the viewer may see: all of it for platform admins and auditors, else their teams'."""
    tenants = Tenant.objects.for_user(viewer)
    return UsageScope(tenants, UsageEvent.objects.for_user(viewer),
                      UsageRollup.objects.filter(tenant__in=tenants.values("pk")))


def team_scope(tenant: Tenant, *, viewer) -> UsageScope:
    """One team's usage, if the viewer may see it (else nothing)."""
    scope = platform_scope(viewer=viewer)
    return UsageScope(scope.tenants.filter(pk=tenant.pk), scope.events.filter(tenant=tenant),
                      scope.rollups.filter(tenant=tenant))


def _rolled_up_until(now: datetime) -> datetime | None:
    """The end of the newest hourly rollup, at most the start of the previous hour (None: no rollups).

    The rollup task rebuilds the current and the previous hour every few minutes (``portal.rollups.
    rollup_recent``), so their rollups may still lack calls: those two hours always come from the ledger.
    """
    newest = UsageRollup.objects.filter(granularity=HOUR).aggregate(newest=Max("bucket_start"))["newest"]
    return None if newest is None else min(newest + timedelta(hours=1), _floor(now, HOUR) - timedelta(hours=1))


def _split(period: Period) -> tuple[Period | None, list[Period]]:
    """The whole hours of ``period`` read from rollups, and the ranges read from the raw ledger."""
    rolled = _rolled_up_until(timezone.now())
    start = _ceil(period.since, HOUR)
    end = min(_floor(period.until, HOUR), rolled) if rolled is not None else start
    if start >= end:
        return None, [period]
    return Period(start, end), [p for p in (Period(period.since, start), Period(end, period.until)) if p.since < p.until]


def grouped(scope: UsageScope, period: Period, by: tuple[str, ...] = (), *,
            granularity: str | None = None) -> dict[tuple, Totals]:
    """Totals of ``period`` per combination of ``by`` (tenant, application, key, alias) and, with a
    ``granularity``, per hour or day (its start comes last in the key)."""
    fields = [_FIELD[name] for name in by]
    out: dict[tuple, Totals] = defaultdict(Totals)
    hours, raw = _split(period)
    if hours is not None:
        rows = scope.rollups.filter(granularity=HOUR, bucket_start__gte=hours.since, bucket_start__lt=hours.until)
        _collect(out, rows, fields, "bucket_start", granularity, requests=Sum("requests"), errors=Sum("errors"))
    if raw:
        in_ranges = Q()
        for part in raw:
            in_ranges |= Q(occurred_at__gte=part.since, occurred_at__lt=part.until)
        _collect(out, scope.events.filter(in_ranges), fields, "occurred_at", granularity,
                 requests=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)))
    return dict(out)


def _collect(out: dict[tuple, Totals], rows: QuerySet, fields: list[str], moment: str, granularity: str | None,
             *, requests, errors) -> None:
    names = list(fields)
    if granularity is not None:
        trunc = TruncDay if granularity == DAY else TruncHour
        rows = rows.annotate(bucket=trunc(moment, tzinfo=UTC))
        names.append("bucket")
    rows = rows.order_by().values(*names).annotate(
        n_requests=requests, n_errors=errors, n_prompt=Sum("prompt_tokens"), n_completion=Sum("completion_tokens"),
        n_cost=Sum("cost"))
    for row in rows:
        key = tuple(row[name] for name in names)
        out[key].add(Totals(requests=row["n_requests"] or 0, errors=row["n_errors"] or 0,
                            prompt_tokens=row["n_prompt"] or 0, completion_tokens=row["n_completion"] or 0,
                            cost=Decimal(row["n_cost"] or 0).quantize(NINE_PLACES)))


def totals(scope: UsageScope, period: Period) -> Totals:
    """Everything ``scope`` consumed in ``period``."""
    return _sum(grouped(scope, period).values())


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    bucket_start: datetime
    totals: Totals


def series(scope: UsageScope, period: Period, granularity: str) -> list[SeriesPoint]:
    """One point per hour or day of ``period``, zeros included."""
    found = grouped(scope, period, granularity=granularity)
    return [SeriesPoint(start, found.get((start,), Totals())) for start in buckets(period, granularity)]


# --- a team ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Ranked:
    """An application, key or model with what it consumed."""

    id: int | str
    name: str
    totals: Totals
    application: str = ""


def top_applications(scope: UsageScope, period: Period, *, limit: int = TOP) -> list[Ranked]:
    """The applications that spent most in ``period``."""
    found = grouped(scope, period, ("application",))
    names = dict(Application.objects.filter(pk__in=[k[0] for k in found]).values_list("pk", "name"))
    ranked = [Ranked(app_id, names.get(app_id, f"#{app_id}"), t) for (app_id,), t in found.items()]
    return sorted(ranked, key=lambda r: (-r.totals.cost, -r.totals.requests, r.name))[:limit]


def top_keys(scope: UsageScope, period: Period, *, limit: int = TOP) -> list[Ranked]:
    """The keys that spent most in ``period``."""
    found = grouped(scope, period, ("key",))
    keys = {k.pk: k for k in ApiKey.objects.filter(pk__in=[k[0] for k in found]).select_related("application")}
    ranked = [Ranked(key_id, _key_label(keys.get(key_id), key_id), t,
                     application=keys[key_id].application.name if key_id in keys else "")
              for (key_id,), t in found.items()]
    return sorted(ranked, key=lambda r: (-r.totals.cost, -r.totals.requests, r.name))[:limit]


def _key_label(key: ApiKey | None, key_id: int) -> str:
    if key is None:
        return f"#{key_id}"
    return f"{key.key_prefix}…" + (f" {key.name}" if key.name else "")


def by_alias(scope: UsageScope, period: Period) -> list[Ranked]:
    """Consumption per model alias, the most expensive first."""
    ranked = [Ranked(alias, alias, t) for (alias,), t in grouped(scope, period, ("alias",)).items()]
    return sorted(ranked, key=lambda r: (-r.totals.cost, r.name))


@dataclass(frozen=True, slots=True)
class ErrorCount:
    status: int
    error_class: str
    count: int


def errors(scope: UsageScope, period: Period) -> list[ErrorCount]:
    """Failed calls (status 400 and up) by status and error class, the most frequent first (raw ledger only)."""
    rows = (scope.events.filter(occurred_at__gte=period.since, occurred_at__lt=period.until, status__gte=400)
            .order_by().values("status", "error_class").annotate(n=Count("pk")).order_by("-n", "status", "error_class"))
    return [ErrorCount(row["status"], row["error_class"], row["n"]) for row in rows]


# --- limits in force and what is left ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class BudgetUse:
    """One budget of one level: how much of it this period used and what is left."""

    measure: str  # cost (US dollars) | tokens
    period: str  # day | month
    budget: Decimal
    used: Decimal
    strict: bool
    shadow: bool

    @property
    def left(self) -> Decimal:
        return max(self.budget - self.used, Decimal(0))

    @property
    def percent(self) -> int:
        return min(int(self.used * 100 / self.budget), 999) if self.budget else (100 if self.used else 0)


@dataclass(frozen=True, slots=True)
class LimitLine:
    """The limits of one level (key, subscription, application or team) as the gateway applies them."""

    level: str
    owner_id: int
    label: str
    alias: str  # the model, for a subscription; empty: every model
    rule: LimitRule
    budgets: tuple[BudgetUse, ...]


def _budgets(rule: LimitRule, used_day: Totals, used_month: Totals) -> tuple[BudgetUse, ...]:
    found = []
    for measure, period, budget, used in (
        ("cost", "day", rule.cost_per_day_nano, used_day.cost),
        ("cost", "month", rule.cost_per_month_nano, used_month.cost),
        ("tokens", "day", rule.tokens_per_day, used_day.tokens),
        ("tokens", "month", rule.tokens_per_month, used_month.tokens),
    ):
        if budget is None:
            continue
        amount = Decimal(budget) / NANO if measure == "cost" else Decimal(budget)
        found.append(BudgetUse(measure, period, amount, Decimal(used), rule.strict, rule.shadow))
    return tuple(found)


@dataclass(slots=True)
class _Owners:
    """A team's applications, live keys and approved subscriptions, each with its label."""

    applications: dict[int, str] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)  # key id -> label
    subscriptions: dict[int, tuple[int, str]] = field(default_factory=dict)  # sub id -> (application id, alias)


def _owners_of(tenant: Tenant, *, viewer, application: Application | None) -> _Owners:
    apps = Application.objects.for_user(viewer).filter(tenant=tenant)
    keys = ApiKey.objects.for_user(viewer).filter(tenant=tenant, revoked_at__isnull=True)
    subs = Subscription.objects.for_user(viewer).filter(application__tenant=tenant, status=SubscriptionStatus.APPROVED)
    if application is not None:
        apps, keys, subs = apps.filter(pk=application.pk), keys.filter(application=application), \
            subs.filter(application=application)
    owners = _Owners(applications=dict(apps.values_list("pk", "name")))
    for key in keys.order_by("created_at"):
        owners.keys[key.pk] = _key_label(key, key.pk)
    for sub_id, app_id, alias in subs.values_list("pk", "application_id", "alias__name"):
        owners.subscriptions[sub_id] = (app_id, alias)
    return owners


def limits_in_force(tenant: Tenant, *, viewer, application: Application | None = None,
                    now: datetime | None = None) -> list[LimitLine]:
    """Every limit that applies to the team's calls (or one application's), with today's and this month's use
    of each budget. Levels from the widest: team, application, subscription, key. Model-wide caps (all
    callers) are not shown: their use includes other teams'."""
    now = now or timezone.now()
    owners = _owners_of(tenant, viewer=viewer, application=application)
    table = limit_table(key_ids=owners.keys, application_ids=owners.applications,
                        subscriptions=[(s, a, alias) for s, (a, alias) in owners.subscriptions.items()])
    scope = team_scope(tenant, viewer=viewer)
    day = grouped(scope, Period.day_of(now), ("application", "alias", "key"))
    month = grouped(scope, Period.month_of(now), ("application", "alias", "key"))

    def used(match: Callable[[tuple], bool]) -> tuple[Totals, Totals]:
        return (_sum(t for k, t in day.items() if match(k)), _sum(t for k, t in month.items() if match(k)))

    lines: list[LimitLine] = []

    def add(level: str, owner_id: int, label: str, alias: str, rule: LimitRule | None, match) -> None:
        if rule is not None:
            lines.append(LimitLine(level, owner_id, label, alias, rule, _budgets(rule, *used(match))))

    add("tenant", tenant.pk, tenant.name, "", table.tenants.get(tenant.pk), lambda k: True)
    for app_id, name in owners.applications.items():
        add("application", app_id, name, "", table.applications.get(app_id), lambda k, a=app_id: k[0] == a)
    for sub_id, (app_id, alias) in owners.subscriptions.items():
        add("subscription", sub_id, f"{owners.applications.get(app_id, app_id)} → {alias}", alias,
            table.subscriptions.get((app_id, alias)), lambda k, a=app_id, m=alias: k[0] == a and k[1] == m)
    for key_id, label in owners.keys.items():
        add("key", key_id, label, "", table.keys.get(key_id), lambda k, i=key_id: k[2] == i)
    return lines


@dataclass(frozen=True, slots=True)
class TeamUsage:
    """Everything the team's usage page shows."""

    tenant: Tenant
    month: Period
    today: Period
    month_totals: Totals
    today_totals: Totals
    by_alias: list[Ranked]
    limits: list[LimitLine]
    daily: list[SeriesPoint]
    hourly: list[SeriesPoint]
    top_applications: list[Ranked]
    top_keys: list[Ranked]
    errors: list[ErrorCount]


def team_usage(tenant: Tenant, *, viewer, now: datetime | None = None) -> TeamUsage:
    """The team's month so far and today: per model, against its limits, over time, top callers, errors."""
    now = now or timezone.now()
    scope = team_scope(tenant, viewer=viewer)
    month, today = Period.month_of(now), Period.day_of(now)
    return TeamUsage(
        tenant=tenant, month=month, today=today, month_totals=totals(scope, month), today_totals=totals(scope, today),
        by_alias=by_alias(scope, month), limits=limits_in_force(tenant, viewer=viewer, now=now),
        daily=series(scope, month, DAY), hourly=series(scope, today, HOUR),
        top_applications=top_applications(scope, month), top_keys=top_keys(scope, month), errors=errors(scope, month),
    )


@dataclass(frozen=True, slots=True)
class TeamPeriodUsage:
    """A team's consumption over any period: what the API answers."""

    tenant: Tenant
    period: Period
    granularity: str
    totals: Totals
    by_alias: list[Ranked]
    series: list[SeriesPoint]
    top_applications: list[Ranked]
    top_keys: list[Ranked]
    errors: list[ErrorCount]


def team_period_usage(tenant: Tenant, *, viewer, period: Period, granularity: str) -> TeamPeriodUsage:
    """The team's consumption in ``period``: totals, per model, per hour or day, top callers and errors."""
    scope = team_scope(tenant, viewer=viewer)
    return TeamPeriodUsage(
        tenant=tenant, period=period, granularity=granularity, totals=totals(scope, period),
        by_alias=by_alias(scope, period), series=series(scope, period, granularity),
        top_applications=top_applications(scope, period), top_keys=top_keys(scope, period),
        errors=errors(scope, period),
    )


# --- the platform ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TenantSpend:
    tenant: Tenant
    totals: Totals


def tenant_spend(scope: UsageScope, period: Period) -> list[TenantSpend]:
    """Every team in the scope with what it consumed in ``period`` (zero included), top spenders first."""
    found = grouped(scope, period, ("tenant",))
    rows = [TenantSpend(t, found.get((t.pk,), Totals())) for t in scope.tenants.order_by("name")]
    return sorted(rows, key=lambda r: (-r.totals.cost, -r.totals.requests, r.tenant.name))


@dataclass(frozen=True, slots=True)
class CostCentreSpend:
    cost_centre: str
    tenants: int
    totals: Totals


def cost_centre_spend(spend: list[TenantSpend]) -> list[CostCentreSpend]:
    """``tenant_spend`` summed per cost centre (empty: teams without one), the most expensive first."""
    grouped_spend: dict[str, list[TenantSpend]] = defaultdict(list)
    for row in spend:
        grouped_spend[row.tenant.cost_centre].append(row)
    rows = [CostCentreSpend(centre, len(items), _sum(i.totals for i in items)) for centre, items in grouped_spend.items()]
    return sorted(rows, key=lambda r: (-r.totals.cost, r.cost_centre))


@dataclass(frozen=True, slots=True)
class ChargebackRow:
    """One line of the monthly chargeback: a team's application's use of one model."""

    month: str
    cost_centre: str
    tenant: str
    application: str
    alias: str
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal


def chargeback(scope: UsageScope, period: Period) -> list[ChargebackRow]:
    """Per cost centre, team, application and model: what ``period`` consumed (rows with calls only), sorted."""
    found = grouped(scope, period, ("tenant", "application", "alias"))
    tenants = {t.pk: t for t in Tenant.objects.filter(pk__in={k[0] for k in found})}
    apps = dict(Application.objects.filter(pk__in={k[1] for k in found}).values_list("pk", "name"))
    rows = [ChargebackRow(period.label, tenants[t].cost_centre, tenants[t].slug, apps.get(a, f"#{a}"), alias,
                          v.requests, v.prompt_tokens, v.completion_tokens, v.cost)
            for (t, a, alias), v in found.items() if t in tenants]
    return sorted(rows, key=lambda r: (r.cost_centre, r.tenant, r.application, r.alias))
