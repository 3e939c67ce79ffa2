"""Reading plans and limit settings: every plan with what follows it, the settings of one owner, the model caps.

The limits a call must fit are resolved in ``portal.limits``; these selectors serve the pages and the API that
edit them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Model, Q, QuerySet
from django.utils import timezone

from aiplatform.models import Tenant
from portal.models import ApiKey, Application, LimitLevel, LimitSettings, Plan, Subscription
from portal.models.subscriptions import OPEN_STATUSES
from registry.models import ModelAlias

OWNER_MODELS: dict[str, type[Model]] = {
    LimitLevel.KEY: ApiKey, LimitLevel.SUBSCRIPTION: Subscription, LimitLevel.APPLICATION: Application,
    LimitLevel.TENANT: Tenant, LimitLevel.ALIAS: ModelAlias,
}


@dataclass(frozen=True, slots=True)
class PlanRow:
    """A plan and what follows it: applications that name it (or follow it as the platform default), live keys
    and open subscriptions that name it."""

    plan: Plan
    applications: int
    default_applications: int
    keys: int
    subscriptions: int

    @property
    def is_default(self) -> bool:
        return self.plan.name == settings.DEFAULT_PLAN


def plans() -> QuerySet[Plan]:
    return Plan.objects.order_by("name")


def plan_named(name: str) -> Plan | None:
    return Plan.objects.filter(name=name).first()


def plans_with_followers(*, viewer) -> list[PlanRow]:
    """Every plan, by name, with how many applications, live keys and open subscriptions follow it. Four queries."""
    applications = _count_by_plan(Application.objects.for_user(viewer))
    live = Q(revoked_at__isnull=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
    keys = _count_by_plan(ApiKey.objects.for_user(viewer).filter(live))
    subscriptions = _count_by_plan(Subscription.objects.for_user(viewer).filter(status__in=OPEN_STATUSES))
    return [PlanRow(plan=plan, applications=applications.get(plan.pk, 0),
                    default_applications=applications.get(None, 0) if plan.name == settings.DEFAULT_PLAN else 0,
                    keys=keys.get(plan.pk, 0), subscriptions=subscriptions.get(plan.pk, 0))
            for plan in plans()]


def _count_by_plan(queryset: QuerySet) -> dict[int | None, int]:
    """``plan id → count`` of ``queryset``'s rows; ``None`` counts those that name no plan."""
    rows = queryset.values("limit_settings__plan_id").annotate(n=Count("pk")).order_by()
    return {row["limit_settings__plan_id"]: row["n"] for row in rows}


def settings_of(level: str, owner: Model) -> LimitSettings:
    """The limits set on ``owner`` (a key, subscription, application, tenant or alias); an unsaved, empty row
    when nothing is set on it yet."""
    found = LimitSettings.objects.select_related("plan", "updated_by").filter(**{level: owner}).first()
    return found if found is not None else LimitSettings(level=level, **{level: owner})


def plan_in_force(limits: LimitSettings) -> Plan | None:
    """The plan ``limits``' owner follows: its own, else (applications) the platform default; None for teams
    and models, which have caps of their own."""
    if limits.plan_id:
        return limits.plan
    if limits.level == LimitLevel.APPLICATION:
        return plan_named(settings.DEFAULT_PLAN)
    return None


@dataclass(frozen=True, slots=True)
class ModelCap:
    alias: ModelAlias
    limits: LimitSettings | None


def model_caps() -> list[ModelCap]:
    """Every model alias, by name, with the cap set on it across all callers (or None). Two queries."""
    caps = {row.alias_id: row for row in LimitSettings.objects.filter(level=LimitLevel.ALIAS)}
    return [ModelCap(alias=alias, limits=caps.get(alias.pk)) for alias in ModelAlias.objects.order_by("name")]
