"""Reading shadow traffic's results: the owners' comparison of an alias's primary answers and its shadows'.

A shadow result belongs to the team whose call was mirrored, but it is about the model's routes, so its
readers are the alias's owners (and platform admins), whatever team made the call, as with feedback:
scoped by alias ownership, not by team membership. The view checks who may see the page
(``shadow.view``). The shadow's cost is the platform's: ``shadow_spend`` is what the platform spend page
shows beside the teams' spend, which never includes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Q, QuerySet, Sum
from django.utils import timezone

from portal.models import ShadowResult
from portal.usage_selectors import Period
from registry.models import Endpoint, ModelAlias
from registry.selectors import aliases_owned_by

WINDOW_DAYS = 30  # the comparison page's figures and pairs
SHADOW_OK = Q(shadow_status=200)


def comparable_aliases(user) -> QuerySet[ModelAlias]:
    """The aliases whose shadow results ``user`` reads: every alias for a platform admin, else those they own."""
    return ModelAlias.objects.order_by("name") if user.is_platform_admin else aliases_owned_by(user)


def shadow_results_for(user, *, alias: str = "", period: Period | None = None) -> QuerySet[ShadowResult]:
    """The shadow results on the aliases ``user`` reads (optionally one alias, one period), newest first."""
    results = ShadowResult.objects.select_related("primary_endpoint__provider", "shadow_endpoint__provider",
                                                  "tenant")
    if not user.is_platform_admin:
        results = results.filter(alias__in=aliases_owned_by(user).values("name"))
    if alias:
        results = results.filter(alias=alias)
    if period is not None:
        results = results.filter(occurred_at__gte=period.since, occurred_at__lt=period.until)
    return results.order_by("-occurred_at", "-pk")


def recent_window() -> Period:
    """The last ``WINDOW_DAYS`` days, ending now."""
    now = timezone.now()
    return Period(now - timedelta(days=WINDOW_DAYS), now)


@dataclass(frozen=True, slots=True)
class ShadowFigures:
    """One alias and one shadow endpoint, side by side with the primary calls they copied.

    Latencies are over the pairs whose shadow answered (a failed shadow answers fast and would flatter it);
    the primary's is its whole call as its caller saw it. Tokens and costs are over every pair.
    """

    alias: str
    shadow_endpoint: Endpoint | None  # None: deleted since
    calls: int
    shadow_errors: int
    primary_mean_ms: float | None
    shadow_mean_ms: float | None
    primary_tokens: int
    shadow_tokens: int
    primary_cost: Decimal  # charged to the callers' teams
    shadow_cost: Decimal  # charged to the platform

    @property
    def shadow_error_rate(self) -> float | None:
        return self.shadow_errors / self.calls if self.calls else None


def shadow_figures(results: QuerySet[ShadowResult]) -> list[ShadowFigures]:
    """Per alias and shadow endpoint: calls, the shadow's error rate, mean latency, tokens and cost of each side.

    One aggregate query (and one for the endpoints), however many results.
    """
    rows = (results.order_by().values("alias", "shadow_endpoint_id").annotate(
        calls=Count("pk"), shadow_errors=Count("pk", filter=~SHADOW_OK),
        primary_mean_ms=Avg("primary_total_ms", filter=SHADOW_OK), shadow_mean_ms=Avg("shadow_ms", filter=SHADOW_OK),
        primary_prompt=Sum("primary_prompt_tokens"), primary_completion=Sum("primary_completion_tokens"),
        shadow_prompt=Sum("shadow_prompt_tokens"), shadow_completion=Sum("shadow_completion_tokens"),
        primary_cost=Sum("primary_cost"), shadow_cost=Sum("shadow_cost")).order_by("alias", "shadow_endpoint_id"))
    rows = list(rows)
    endpoints = Endpoint.objects.select_related("provider").in_bulk({r["shadow_endpoint_id"] for r in rows} - {None})
    return [ShadowFigures(
        alias=r["alias"], shadow_endpoint=endpoints.get(r["shadow_endpoint_id"]), calls=r["calls"],
        shadow_errors=r["shadow_errors"], primary_mean_ms=r["primary_mean_ms"], shadow_mean_ms=r["shadow_mean_ms"],
        primary_tokens=(r["primary_prompt"] or 0) + (r["primary_completion"] or 0),
        shadow_tokens=(r["shadow_prompt"] or 0) + (r["shadow_completion"] or 0),
        primary_cost=r["primary_cost"] or Decimal(0), shadow_cost=r["shadow_cost"] or Decimal(0),
    ) for r in rows]


def shadow_spend(period: Period) -> Decimal:
    """What shadow traffic cost the platform in ``period`` (every alias, every team's mirrored calls)."""
    spent = ShadowResult.objects.filter(occurred_at__gte=period.since, occurred_at__lt=period.until).aggregate(
        cost=Sum("shadow_cost"))["cost"]
    return spent or Decimal(0)
