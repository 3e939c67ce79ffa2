"""Comparing an alias's A/B variants: what each variant (the route label a usage event records) did in a period.

For the alias's model owners and platform admins, across every team that called it: the comparison is
about the model's routes, not about a team, so it reads the ledger unscoped; the view checks who may see
it (``variants.compare``). Figures come from the raw ledger only (the rollups keep no variant), so a
period reaches back at most ``USAGE_RETENTION_DAYS``.

Queries: one aggregate over the alias's events grouped by variant (on PostgreSQL it carries the p95 as
``percentile_cont``; elsewhere one more query picks the two ranked rows around the p95 with a window
function), one for feedback and one for compare votes, each grouped by the variant of the call it is
about (joined on the gateway's request id), and the alias's routing (two or three). However many
variants or calls: at most seven.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    ExpressionWrapper,
    F,
    FloatField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    Window,
    prefetch_related_objects,
)
from django.db.models.functions import RowNumber
from django.utils import timezone

from portal.models import ComparedAnswer, Feedback, UsageEvent
from portal.models.feedback import Rating
from portal.usage_selectors import NINE_PLACES, Period
from registry.models import ModelAlias, Route
from registry.selectors import AliasRouting, RouteTarget, alias_routing

MIN_CALLS = 30  # below this a variant's figures are noise: the page says "too few calls to compare"
P95 = 0.95
SUCCEEDED = Q(status__lt=400)


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    value: str
    label: str
    length: timedelta


PERIODS = (
    PeriodChoice("24h", "Last 24 hours", timedelta(hours=24)),
    PeriodChoice("7d", "Last 7 days", timedelta(days=7)),
    PeriodChoice("30d", "Last 30 days", timedelta(days=30)),
    PeriodChoice("90d", "Last 90 days", timedelta(days=90)),  # the ledger's default retention
)
DEFAULT_PERIOD = "7d"


def period_ending_now(choice: str) -> Period:
    """The ``Period`` of a ``PERIODS`` value, ending now (``ValueError`` for an unknown one)."""
    for option in PERIODS:
        if option.value == choice:
            now = timezone.now()
            return Period(now - option.length, now)
    raise ValueError(f"unknown period {choice!r}")


# --- figures ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class VariantFigures:
    """What one variant served in the period. Latency and tokens are of its successful calls (status below
    400): a refusal answers fast and carries no tokens, so counting it would flatter a failing variant."""

    variant: str  # "" for calls refused before a route was chosen
    calls: int = 0
    errors: int = 0  # status 400 and up
    server_errors: int = 0  # status 500 and up
    applications: int = 0  # distinct callers (sticky per application keeps each on one variant)
    mean_ms: float | None = None
    p95_ms: float | None = None
    mean_ttfb_ms: float | None = None
    mean_prompt_tokens: float | None = None
    mean_completion_tokens: float | None = None
    cost: Decimal = Decimal(0)
    retried: int = 0  # calls that needed more than one try (a retry or a fallback)
    feedback: int = 0
    feedback_up: int = 0
    votes: int = 0  # voted comparisons in which this variant answered
    votes_won: int = 0

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def server_error_rate(self) -> float | None:
        return self.server_errors / self.calls if self.calls else None

    @property
    def cost_per_call(self) -> Decimal | None:
        """Over every call: failed tries are never charged, so this is what a call costs on average."""
        return (self.cost / self.calls).quantize(NINE_PLACES) if self.calls else None

    @property
    def retried_share(self) -> float | None:
        return self.retried / self.calls if self.calls else None

    @property
    def share_up(self) -> float | None:
        return self.feedback_up / self.feedback if self.feedback else None

    @property
    def share_won(self) -> float | None:
        return self.votes_won / self.votes if self.votes else None

    @property
    def too_few(self) -> bool:
        return self.calls < MIN_CALLS


@dataclass(frozen=True, slots=True)
class RouteLine:
    """One route of the alias's current routing, as the comparison names it."""

    target: RouteTarget
    label: str  # what its calls record as their variant
    role: str  # draw: in the first priority's weighted draw | fallback | shadow (mirrored, never serves)
    share: float | None  # a drawn route's share of the draw (its weight over its priority's); else None


@dataclass(frozen=True, slots=True)
class VariantComparison:
    alias: ModelAlias
    period: Period
    variants: tuple[VariantFigures, ...]  # the current routes' variants first (in fallback order), then others
    routing: AliasRouting
    routes: tuple[RouteLine, ...]

    @property
    def calls(self) -> int:
        return sum(v.calls for v in self.variants)

    @property
    def has_unrouted(self) -> bool:
        """Some calls were refused before a route was chosen (their variant is "")."""
        return any(v.variant == "" for v in self.variants)


def variant_label(route: RouteTarget) -> str:
    """The variant a call served by ``route`` records: its label, else ``provider/upstream_model``.

    The same rule as the gateway's ``gateway.routing.order.variant_of`` (the portal does not import the gateway).
    """
    return route.variant or f"{route.provider_name}/{route.upstream_model}"


class PercentileCont(Aggregate):
    """PostgreSQL's ``percentile_cont(fraction) WITHIN GROUP (ORDER BY expression)``: the interpolated quantile."""

    function = "PERCENTILE_CONT"
    name = "PercentileCont"
    output_field = FloatField()
    template = "%(function)s(%(fraction)r) WITHIN GROUP (ORDER BY %(expressions)s)%(filter)s"

    def __init__(self, expression, *, fraction: float, **extra) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _events(alias: ModelAlias, period: Period) -> QuerySet[UsageEvent]:
    return UsageEvent.objects.filter(alias=alias.name, occurred_at__gte=period.since, occurred_at__lt=period.until)


def _by_variant(events: QuerySet[UsageEvent], *, with_p95: bool) -> dict[str, dict]:
    measures = {
        "calls": Count("pk"),
        "errors": Count("pk", filter=Q(status__gte=400)),
        "server_errors": Count("pk", filter=Q(status__gte=500)),
        "applications": Count("application_id", distinct=True),
        "mean_ms": Avg("total_ms", filter=SUCCEEDED),
        "mean_ttfb_ms": Avg("ttfb_ms", filter=SUCCEEDED),
        "mean_prompt_tokens": Avg("prompt_tokens", filter=SUCCEEDED),
        "mean_completion_tokens": Avg("completion_tokens", filter=SUCCEEDED),
        "cost": Sum("cost"),
        "retried": Count("pk", filter=Q(attempt_count__gt=1)),
    }
    if with_p95:
        measures["p95_ms"] = PercentileCont("total_ms", fraction=P95, filter=SUCCEEDED)
    rows = events.order_by().values("variant").annotate(**measures)
    return {row.pop("variant"): row for row in rows}


def p95_by_ranks(events: QuerySet[UsageEvent]) -> dict[str, float]:
    """The p95 of successful calls' ``total_ms`` per variant, as ``percentile_cont`` computes it, on any database.

    One query: a window ranks each variant's calls by latency and only the two rows around the 95th
    percentile's position, ``(n - 1) * 0.95`` counted from 0, come back; the value lies between them.
    """
    position = ExpressionWrapper((F("n") - 1) * Value(P95), output_field=FloatField())
    rows = (events.filter(SUCCEEDED).order_by()
            .annotate(rank=Window(RowNumber(), partition_by=[F("variant")], order_by=[F("total_ms").asc(), F("pk")]),
                      n=Window(Count("pk"), partition_by=[F("variant")]))
            .annotate(position=position)
            # rank counts from 1: keep ranks floor(position) + 1 and floor(position) + 2
            .filter(rank__gt=F("position"), rank__lte=F("position") + 2)
            .values_list("variant", "n", "rank", "total_ms"))
    found: dict[str, dict[int, float]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    for variant, n, rank, total_ms in rows:
        found[variant][rank - 1] = total_ms
        sizes[variant] = n
    out = {}
    for variant, values in found.items():
        exact = (sizes[variant] - 1) * P95
        low = math.floor(exact)
        below = values.get(low, min(values.values()))
        above = values.get(low + 1, below)
        out[variant] = below + (above - below) * (exact - low)
    return out


def _feedback_by_variant(alias: ModelAlias, events: QuerySet[UsageEvent]) -> dict[str, dict]:
    served = Subquery(events.filter(request_id=OuterRef("request_id")).order_by().values("variant")[:1])
    rows = (Feedback.objects.filter(alias=alias.name).annotate(served_by=served).filter(served_by__isnull=False)
            .order_by().values("served_by")
            .annotate(feedback=Count("pk"), feedback_up=Count("pk", filter=Q(rating=Rating.UP))))
    return {row.pop("served_by"): row for row in rows}


def _votes_by_variant(alias: ModelAlias, events: QuerySet[UsageEvent]) -> dict[str, dict]:
    served = Subquery(events.filter(request_id=OuterRef("request_id")).order_by().values("variant")[:1])
    rows = (ComparedAnswer.objects.filter(alias=alias.name, comparison__winner__isnull=False)
            .exclude(request_id="").annotate(served_by=served).filter(served_by__isnull=False)
            .order_by().values("served_by")
            .annotate(votes=Count("pk"), votes_won=Count("pk", filter=Q(comparison__winner=F("pk")))))
    return {row.pop("served_by"): row for row in rows}


def _route_lines(routing: AliasRouting) -> tuple[RouteLine, ...]:
    serving = [route for route in routing.routes if not route.shadow_sample]
    first = min((route.priority for route in serving), default=0)
    drawn = sum(route.weight for route in serving if route.priority == first)
    lines = []
    for route in routing.routes:
        if route.shadow_sample:
            role, share = "shadow", None
        elif route.priority == first:
            role, share = "draw", (route.weight / drawn if drawn else 0.0)
        else:
            role, share = "fallback", None
        lines.append(RouteLine(target=route, label=variant_label(route), role=role, share=share))
    return tuple(lines)


def variant_comparison(alias: ModelAlias, period: Period) -> VariantComparison:
    """Per variant of ``alias`` in ``period``: calls, error rates, latency, tokens, cost, retries, feedback and
    compare votes (``VariantFigures``), with the alias's current routing. Every team's calls; the caller checks
    that the viewer may see it. At most seven queries (load ``alias`` with its ``replacement``)."""
    events = _events(alias, period)
    postgres = connection.vendor == "postgresql"
    figures = _by_variant(events, with_p95=postgres)
    if not postgres:
        for variant, p95 in p95_by_ranks(events).items():
            figures[variant]["p95_ms"] = p95
    feedback = _feedback_by_variant(alias, events)
    votes = _votes_by_variant(alias, events)

    prefetch_related_objects([alias], Prefetch("routes", queryset=Route.objects.select_related("endpoint__provider")),
                             "routing_rules__targets")
    routing = alias_routing(alias)
    routes = _route_lines(routing)

    # The current serving routes first, even without calls (a variant just added), then whatever else served.
    order = list(dict.fromkeys(line.label for line in routes if line.role != "shadow"))
    seen = set(figures) | set(feedback) | set(votes)
    order += sorted(seen - set(order), key=lambda v: (v == "", -figures.get(v, {}).get("calls", 0), v))
    variants = []
    for variant in order:
        row = {**figures.get(variant, {}), **feedback.get(variant, {}), **votes.get(variant, {})}
        row["cost"] = Decimal(row.get("cost") or 0).quantize(NINE_PLACES)
        variants.append(VariantFigures(variant=variant, **row))
    return VariantComparison(alias=alias, period=period, variants=tuple(variants), routing=routing, routes=routes)
