"""Budget alerts: each threshold of a budget crossed in a period, told to the team once.

``check_budget_alerts(events)`` runs after each committed ledger batch. For every key, subscription,
application and team the batch touched that has a day or month budget (cost or tokens), it sums that
owner's ledger for the periods the batch's calls fall in (one aggregate query per kind of owner, none
per event) and records a ``BudgetAlert`` for each threshold of ``BUDGET_ALERT_THRESHOLDS`` (50 / 80 /
100 %) the spend has reached. "Once per threshold per period" is the database's: the alert's unique
constraint. A concurrent writer of the same alert waits on the index, then finds the row and tells
nobody. Only a newly recorded alert is told: an e-mail and an in-app notification to each of the team's
admins and owners, and a signed post to each of its webhooks (``portal.webhooks``), all on commit.

- Spend is recomputed from the ledger every time, so an alert missed (a failed run) fires on the
  owner's next batch, and alerts already recorded cost one query, not a sum.
- A budget of 0 is crossed at every threshold by any spend.
- Periods are UTC days and months, as the gateway counts them; a late event counts in its own period.
- Levels in shadow mode are skipped: their budgets are not enforced, so "calls are refused" would be false.
- The alias level (one model's cap across every team) is the platform's, not a team's: no team alert.
- Several thresholds reached in one batch (one big call, a budget of 0) make one message naming the
  highest; each still has its own alert row and webhook delivery.
"""

from __future__ import annotations

import operator
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import reduce
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse

from aiplatform.audit import record_event
from aiplatform.models import Membership, Tenant
from aiplatform.roles import TenantRole
from portal import webhooks  # (webhooks imports this module too: both use each other's names at call time only)
from portal.limits import NANO, LimitRule, limit_table
from portal.models import ApiKey, Application, BudgetAlert, LimitLevel, Subscription, SubscriptionStatus, UsageEvent
from portal.notifications import notify

log = structlog.get_logger(__name__)

TEAM_LEVELS = (LimitLevel.KEY, LimitLevel.SUBSCRIPTION, LimitLevel.APPLICATION, LimitLevel.TENANT)
# The ledger's columns that name an owner of each level (a subscription is its application and alias).
_LEDGER_FIELDS = {LimitLevel.KEY: ("key_id",), LimitLevel.SUBSCRIPTION: ("application_id", "alias"),
                  LimitLevel.APPLICATION: ("application_id",), LimitLevel.TENANT: ("tenant_id",)}
COST, TOKENS = "cost", "tokens"
DAY, MONTH = "day", "month"


@dataclass(frozen=True, slots=True)
class _Owner:
    """One level with a budget that a batch touched."""

    level: str
    owner_id: int
    tenant_id: int
    rule: LimitRule
    ledger_key: tuple  # its values of ``_LEDGER_FIELDS[level]``


@dataclass(frozen=True, slots=True)
class _Check:
    """One budget of one owner in one period, with the thresholds not alerted yet."""

    owner: _Owner
    measure: str  # cost | tokens
    period: str  # day | month
    period_start: date
    budget: int  # nano-dollars or tokens
    thresholds: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class OwnerDescription:
    """How people and receivers see an owner: a short name, a phrase for sentences, a portal link."""

    name: str
    label: str
    link: str


def check_budget_alerts(events: list[dict[str, Any]]) -> list[BudgetAlert]:
    """Record and tell every budget threshold the owners of these ledger rows have crossed; return the new alerts.

    ``events`` are the rows just committed to the ledger, as dicts with ``tenant_id``, ``application_id``,
    ``key_id``, ``alias`` (the alias name), ``cost`` and ``occurred_at`` (UTC). Call it after the batch
    commits: it reads spend from the ledger. Safe to call again, or concurrently, for the same rows: an
    alert already recorded is neither recorded nor told twice. A failure for one owner is logged and
    skipped (its next batch tries again); the others are still checked.
    """
    if not events:
        return []
    thresholds = tuple(sorted(set(settings.BUDGET_ALERT_THRESHOLDS)))
    checks = _pending_checks(_owners_touched(events), thresholds)
    if not checks:
        return []
    spend = _daily_spend(checks)
    created: list[BudgetAlert] = []
    for check in checks:
        used = _used(spend, check)
        crossed = [t for t in check.thresholds if _crossed(used, check.budget, t)]
        if not crossed:
            continue
        try:
            created += _record(check, crossed, used)
        except Exception:  # one owner's trouble must not cost the others their alerts
            log.exception("budget_alert_failed", level=check.owner.level, owner_id=check.owner.owner_id,
                          measure=check.measure, period=check.period)
    return created


def _crossed(used: int, budget: int, threshold: int) -> bool:
    if budget == 0:
        return used > 0
    return used * 100 >= budget * threshold


def _utc_day(value: datetime | str) -> date:
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when.astimezone(UTC).date()


def _period_start(period: str, day: date) -> date:
    return day if period == DAY else day.replace(day=1)


def _period_end(period: str, start: date) -> date:
    if period == DAY:
        return start + timedelta(days=1)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def _budgets(rule: LimitRule, period: str) -> list[tuple[str, int]]:
    cost = rule.cost_per_day_nano if period == DAY else rule.cost_per_month_nano
    tokens = rule.tokens_per_day if period == DAY else rule.tokens_per_month
    return [(measure, value) for measure, value in ((COST, cost), (TOKENS, tokens)) if value is not None]


def _owners_touched(events: list[dict[str, Any]]) -> dict[_Owner, set[date]]:
    """Every team-level owner with a budget that these events count against, and the UTC days they fall on."""
    key_ids = {e["key_id"] for e in events}
    application_ids = {e["application_id"] for e in events}
    alias_names = {e["alias"] for e in events}
    subscriptions = list(Subscription.objects.filter(
        status=SubscriptionStatus.APPROVED, application_id__in=application_ids, alias__name__in=alias_names,
    ).values_list("pk", "application_id", "alias__name"))
    table = limit_table(key_ids=key_ids, application_ids=application_ids, subscriptions=subscriptions)
    touched: dict[_Owner, set[date]] = defaultdict(set)
    for e in events:
        day = _utc_day(e["occurred_at"])
        for rule in table.rules_for(key_id=e["key_id"], application_id=e["application_id"], tenant_id=e["tenant_id"],
                                    alias=e["alias"]):
            if rule.level not in TEAM_LEVELS or rule.shadow or not rule.has_budget:
                continue
            ledger_key = tuple(e[field] for field in _LEDGER_FIELDS[rule.level])
            touched[_Owner(rule.level, rule.owner_id, e["tenant_id"], rule, ledger_key)].add(day)
    return touched


def _pending_checks(touched: dict[_Owner, set[date]], thresholds: tuple[int, ...]) -> list[_Check]:
    """The budgets that still have a threshold to alert in a touched period (one query for what was alerted)."""
    if not touched:
        return []
    starts = {_period_start(period, day) for days in touched.values() for day in days for period in (DAY, MONTH)}
    alerted = set(BudgetAlert.objects.filter(
        owner_id__in={owner.owner_id for owner in touched}, period_start__in=starts,
    ).values_list("level", "owner_id", "measure", "period", "period_start", "threshold_percent"))
    checks = []
    for owner, days in touched.items():
        for period in (DAY, MONTH):
            for start in sorted({_period_start(period, day) for day in days}):
                for measure, budget in _budgets(owner.rule, period):
                    left = tuple(t for t in thresholds
                                 if (owner.level, owner.owner_id, measure, period, start, t) not in alerted)
                    if left:
                        checks.append(_Check(owner, measure, period, start, budget, left))
    return checks


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _daily_spend(checks: list[_Check]) -> dict[tuple[str, tuple], dict[date, tuple[int, int]]]:
    """Cost (nano-dollars) and tokens per UTC day for every owner checked: one aggregate query per level."""
    by_level: dict[str, list[_Check]] = defaultdict(list)
    for check in checks:
        by_level[check.owner.level].append(check)
    spend: dict[tuple[str, tuple], dict[date, tuple[int, int]]] = defaultdict(dict)
    for level, group in by_level.items():
        fields = _LEDGER_FIELDS[level]
        keys = {check.owner.ledger_key for check in group}
        if level == LimitLevel.SUBSCRIPTION:
            where = reduce(operator.or_, (Q(application_id=app_id, alias=alias) for app_id, alias in keys))
        else:
            where = Q(**{f"{fields[0]}__in": [key[0] for key in keys]})
        since = min(check.period_start for check in group)
        until = max(_period_end(check.period, check.period_start) for check in group)
        rows = (UsageEvent.objects.filter(where, occurred_at__gte=_midnight(since), occurred_at__lt=_midnight(until))
                .annotate(day=TruncDate("occurred_at", tzinfo=UTC)).values(*fields, "day")
                .annotate(cost=Sum("cost"), tokens=Sum("total_tokens")).order_by())
        for row in rows:
            spend[(level, tuple(row[field] for field in fields))][row["day"]] = (
                int((row["cost"] or 0) * NANO), int(row["tokens"] or 0))
    return spend


def _used(spend: dict[tuple[str, tuple], dict[date, tuple[int, int]]], check: _Check) -> int:
    days = spend.get((check.owner.level, check.owner.ledger_key), {})
    end = _period_end(check.period, check.period_start)
    index = 0 if check.measure == COST else 1
    return sum(values[index] for day, values in days.items() if check.period_start <= day < end)


def _amount(measure: str, value: int) -> Decimal:
    """Nano-dollars as dollars (the alert stores dollars), tokens as they are."""
    return (Decimal(value) / NANO).quantize(Decimal("0.000000001")) if measure == COST else Decimal(value)


def _record(check: _Check, crossed: list[int], used: int) -> list[BudgetAlert]:
    """Insert the crossed thresholds' alerts (a duplicate is found, not raised) and tell the new ones, atomically."""
    owner = check.owner
    used_amount, budget_amount = _amount(check.measure, used), _amount(check.measure, check.budget)
    tenant = Tenant.objects.get(pk=owner.tenant_id)
    with transaction.atomic():
        new = []
        for threshold in crossed:  # ascending, so concurrent writers take the unique index's locks in one order
            alert, created = BudgetAlert.objects.get_or_create(
                level=owner.level, owner_id=owner.owner_id, measure=check.measure, period=check.period,
                period_start=check.period_start, threshold_percent=threshold,
                defaults={"tenant": tenant, "used": used_amount, "budget": budget_amount})
            if created:
                new.append(alert)
        for alert in new:  # audited after every insert, so the audit chain's lock is never held while waiting
            record_event(action="budget.threshold_crossed", actor=None, tenant=tenant, target=alert,
                         changes={"level": alert.level, "owner_id": alert.owner_id, "measure": alert.measure,
                                  "period": alert.period, "period_start": alert.period_start,
                                  "threshold_percent": alert.threshold_percent, "used": used_amount,
                                  "budget": budget_amount})
        if new:
            _tell_admins(tenant, check, top=new[-1].threshold_percent, used=used_amount, budget=budget_amount)
            webhooks.enqueue_deliveries(new)
    if new:
        log.info("budget_alerts_recorded", level=owner.level, owner_id=owner.owner_id, measure=check.measure,
                 period=check.period, thresholds=[a.threshold_percent for a in new])
    return new


def describe_owner(level: str, owner_id: int) -> OwnerDescription:
    """A key, subscription, application or team, as a name, a phrase and a link to its portal page."""
    if level == LimitLevel.KEY:
        key = ApiKey.objects.select_related("application").filter(pk=owner_id).first()
        if key is not None:
            name = f"{key.key_prefix}…" + (f" ({key.name})" if key.name else "")
            return OwnerDescription(name, f"key {name} of {key.application.name}",
                                    reverse("portal:application", args=[key.application_id]))
    elif level == LimitLevel.SUBSCRIPTION:
        sub = Subscription.objects.select_related("application", "alias").filter(pk=owner_id).first()
        if sub is not None:
            return OwnerDescription(f"{sub.application.name} → {sub.alias.name}",
                                    f"the subscription of {sub.application.name} to {sub.alias.name}",
                                    reverse("portal:application", args=[sub.application_id]))
    elif level == LimitLevel.APPLICATION:
        application = Application.objects.filter(pk=owner_id).first()
        if application is not None:
            return OwnerDescription(application.name, f"application {application.name}",
                                    reverse("portal:application", args=[application.pk]))
    elif level == LimitLevel.TENANT:
        tenant = Tenant.objects.filter(pk=owner_id).first()
        if tenant is not None:
            return OwnerDescription(tenant.name, f"team {tenant.name}", reverse("portal:team", args=[tenant.slug]))
    return OwnerDescription(f"{level} {owner_id}", f"{level} {owner_id}", "")


def _dollars(amount: Decimal) -> str:
    """$1,000.00, $0.05, $0.042: cents at least, and the fractions of a cent small budgets need."""
    whole, _, fraction = f"{amount:,.6f}".partition(".")
    return f"${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def _quantity(measure: str, amount: Decimal) -> str:
    return _dollars(amount) if measure == COST else f"{int(amount):,} tokens"


def _tell_admins(tenant: Tenant, check: _Check, *, top: int, used: Decimal, budget: Decimal) -> None:
    """One message (stored, e-mailed and pushed on commit) to each admin and owner of the team."""
    owner = describe_owner(check.owner.level, check.owner.owner_id)
    adjective = "daily" if check.period == DAY else "monthly"
    measure = "cost" if check.measure == COST else "token"
    when = (f"on {check.period_start:%Y-%m-%d} (UTC)" if check.period == DAY
            else f"in {check.period_start:%B %Y} (UTC)")
    share = f"{used * 100 / budget:.0f} %" if budget else "any spend of a zero budget"
    resets = f"{_period_end(check.period, check.period_start):%Y-%m-%d} 00:00 UTC"
    title = f"{tenant.name}: {owner.label} has used {top} % of its {adjective} {measure} budget"
    body = (f"{owner.label[0].upper()}{owner.label[1:]} has used {_quantity(check.measure, used)} of its "
            f"{adjective} budget of {_quantity(check.measure, budget)} ({share}) {when}. ")
    if top >= 100:
        body += f"New calls are refused (429, budget_exceeded) until the budget resets at {resets}."
    else:
        body += f"At 100 % new calls are refused until the budget resets at {resets}."
        if check.owner.rule.strict:
            body += " The budget is strict: a call that might not fit in what is left is refused before that."
    members = Membership.objects.filter(tenant=tenant, role__in=TenantRole.ADMIN.at_least()).select_related("user")
    for membership in members.order_by("pk"):
        notify(user=membership.user, title=title, body=body, link=owner.link)
