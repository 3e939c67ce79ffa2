"""Reading the record of guardrail decisions: which rules fire most, per day, the latest blocked calls, payloads.

Who reads what is decided here, once. Platform auditors and platform admins read every team's decisions; a
team's admins (and owners) read their own team's; nobody else reads any (``decisions_for`` is empty).
Payload records are read by platform auditors only (``payload_record_for``). All periods end now and are
counted in UTC days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDay
from django.utils import timezone

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from portal.models import GuardDecision, PayloadRecord

PERIODS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}
DEFAULT_PERIOD = "7d"
ACTIONS = ("block", "mask", "flag", "unscanned", "invalid")
TOP_RULES = 50
LATEST_BLOCKED = 20


def reads_every_team(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.is_active
                and (user.is_platform_admin or user.is_auditor))


def guardrail_tenants(user) -> QuerySet[Tenant]:
    """The teams whose decisions ``user`` reads: every team for auditors and platform admins, else those they
    administer (admin or owner)."""
    if reads_every_team(user):
        return Tenant.objects.order_by("name")
    return Tenant.objects.for_user(user, min_role=TenantRole.ADMIN).order_by("name")


def decisions_for(user) -> QuerySet[GuardDecision]:
    """Every decision ``user`` may read (see the module's docstring); tenant isolation is here."""
    if reads_every_team(user):
        return GuardDecision.objects.all()
    return GuardDecision.objects.for_user(user, min_role=TenantRole.ADMIN)


@dataclass(frozen=True, slots=True)
class GuardFilters:
    period: str = DEFAULT_PERIOD  # a key of PERIODS
    tenant: Tenant | None = None
    alias: str = ""
    action: str = ""

    def since(self, now: datetime) -> datetime:
        return now - PERIODS[self.period]


def filtered(decisions: QuerySet[GuardDecision], filters: GuardFilters, *, now: datetime | None = None,
             ) -> QuerySet[GuardDecision]:
    """``decisions`` in the filters' period (ending ``now``), team, alias and action."""
    now = now or timezone.now()
    decisions = decisions.filter(occurred_at__gte=filters.since(now), occurred_at__lte=now)
    if filters.tenant is not None:
        decisions = decisions.filter(tenant=filters.tenant)
    if filters.alias:
        decisions = decisions.filter(alias=filters.alias)
    if filters.action:
        decisions = decisions.filter(action=filters.action)
    return decisions


@dataclass(frozen=True, slots=True)
class RuleFigure:
    """One rule (policy · stage · detector · action): how often it fired, on how many calls, its share of all."""

    policy: str
    stage: str
    detector: str
    action: str
    count: int
    calls: int
    share: float


def top_rules(decisions: QuerySet[GuardDecision], *, most: int = TOP_RULES) -> list[RuleFigure]:
    """The rules that fired most, by matches (``count`` summed), with their share of every match. One query."""
    rows = list(decisions.order_by().values("policy", "stage", "detector", "action")
                .annotate(hits=Sum("count"), calls=Count("request_id", distinct=True))
                .order_by("-hits", "policy", "stage", "detector", "action"))
    total = sum(r["hits"] or 0 for r in rows)
    return [RuleFigure(policy=r["policy"], stage=r["stage"], detector=r["detector"], action=r["action"],
                       count=r["hits"] or 0, calls=r["calls"], share=(r["hits"] or 0) / total if total else 0.0)
            for r in rows[:most]]


@dataclass(slots=True)
class DayFigure:
    """One UTC day: matches per action, and the calls with any decision."""

    day: date
    by_action: dict[str, int]
    calls: int

    @property
    def total(self) -> int:
        return sum(self.by_action.values())


def per_day(decisions: QuerySet[GuardDecision], filters: GuardFilters, *, now: datetime | None = None,
            ) -> list[DayFigure]:
    """Every UTC day of the period, oldest first (days without decisions included). Two queries."""
    now = now or timezone.now()
    first = filters.since(now).date()
    days = {first + timedelta(days=i): DayFigure(first + timedelta(days=i), dict.fromkeys(ACTIONS, 0), 0)
            for i in range((now.date() - first).days + 1)}
    by_day = decisions.order_by().annotate(day=TruncDay("occurred_at"))
    for row in by_day.values("day", "action").annotate(hits=Sum("count")):
        figure = days.get(row["day"].date())
        if figure is not None:
            figure.by_action[row["action"]] = figure.by_action.get(row["action"], 0) + (row["hits"] or 0)
    for row in by_day.values("day").annotate(calls=Count("request_id", distinct=True)):
        figure = days.get(row["day"].date())
        if figure is not None:
            figure.calls = row["calls"]
    return list(days.values())


def latest_blocked(decisions: QuerySet[GuardDecision], *, most: int = LATEST_BLOCKED) -> list[GuardDecision]:
    """The latest blocking decisions, newest first, with their team."""
    return list(decisions.filter(action="block").select_related("tenant").order_by("-occurred_at", "-pk")[:most])


def aliases_in(decisions: QuerySet[GuardDecision]) -> list[str]:
    """The aliases that have decisions the viewer reads (the filter's choices)."""
    return list(decisions.order_by("alias").values_list("alias", flat=True).distinct()[:500])


def payload_ids(request_ids: list[str]) -> set[str]:
    """Which of these calls have a payload record (for the auditor's links). One query."""
    return set(PayloadRecord.objects.filter(request_id__in=request_ids).values_list("request_id", flat=True))


def payload_record_for(user, request_id: str) -> PayloadRecord | None:
    """The payload record of one call, for a platform auditor; None for anyone else or when none was kept."""
    if not (getattr(user, "is_authenticated", False) and user.is_active and user.is_auditor):
        return None
    return PayloadRecord.objects.select_related("tenant").filter(request_id=request_id).first()


def decisions_of_call(user, request_id: str) -> list[GuardDecision]:
    """The decisions recorded on one call that ``user`` may read, in their order."""
    return list(decisions_for(user).filter(request_id=request_id).order_by("position"))
