"""The scheduled ranking run: measure every catalogue model over the window, score each use case's models,
and replace the stored standings in one transaction.

Candidates for a use case are the catalogue's models (evaluating, approved, deprecated) whose card lists
it. What is measured is per model, company-wide: the platform does not know the use case of a call, so a
model's calls, cost, latency, errors and votes speak for every use case its card claims; the use case
chooses the competitors and the examples shown as evidence.

Cost: one aggregate query over the daily usage rollups of the window, two over feedback and compare votes,
one over the cards; run by celery beat (``recommendations.rank_use_cases``, hourly), never per page view.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from portal import rollups
from portal.models import ComparedAnswer, Feedback, UsageRollup
from portal.models.feedback import Rating
from recommendations import scoring
from recommendations.models import UseCaseStanding
from registry.models import AliasKind, ModelCard
from registry.selectors import CATALOGUE_STATUSES

log = structlog.get_logger("switchboard.recommendations")


@dataclass
class _Figures:
    calls: int = 0
    errors: int = 0
    cost: Decimal = Decimal(0)
    latency: list[int] | None = None
    thumbs_up: int = 0
    thumbs_down: int = 0
    wins: int = 0
    losses: int = 0


def _candidates() -> dict[str, list[str]]:
    """Use case → the catalogue's aliases whose card lists it."""
    by_use_case: dict[str, list[str]] = defaultdict(list)
    cards = (ModelCard.objects.filter(alias__status__in=CATALOGUE_STATUSES).exclude(alias__kind=AliasKind.PROMPT)
             .values_list("alias__name", "use_cases"))
    for alias, use_cases in cards:
        for use_case in dict.fromkeys(use_cases or []):
            if isinstance(use_case, str) and use_case:
                by_use_case[use_case[:50]].append(alias)
    return by_use_case


def _measure(aliases: set[str], since: datetime) -> dict[str, _Figures]:
    figures = {alias: _Figures() for alias in aliases}
    # Daily rollups include today's (rebuilt hourly): the window's calls without reading the raw ledger.
    day_rows = UsageRollup.objects.filter(granularity=rollups.DAY, bucket_start__gte=rollups.floor(since, rollups.DAY),
                                          alias__in=aliases)
    for row in day_rows.values("alias").annotate(calls=Sum("requests"), errors=Sum("errors"), cost=Sum("cost")):
        f = figures[row["alias"]]
        f.calls, f.errors, f.cost = row["calls"] or 0, row["errors"] or 0, row["cost"] or Decimal(0)
    for alias, histogram in day_rows.values_list("alias", "latency_buckets").iterator():
        figures[alias].latency = rollups.merge(figures[alias].latency or [], histogram or [])
    ratings = Counter(Feedback.objects.filter(created_at__gte=since, alias__in=aliases)
                      .values_list("alias", "rating"))
    for (alias, rating), count in ratings.items():
        if rating == Rating.UP:
            figures[alias].thumbs_up += count
        else:
            figures[alias].thumbs_down += count
    voted = (ComparedAnswer.objects.filter(comparison__voted_at__gte=since, comparison__winner__isnull=False,
                                           alias__in=aliases)
             .values_list("alias", "pk", "comparison__winner__alias", "comparison__winner_id"))
    for alias, pk, winner_alias, winner_id in voted:
        if pk == winner_id:
            figures[alias].wins += 1
        elif alias != winner_alias:  # the same model in two slots neither wins nor loses against itself
            figures[alias].losses += 1
    return figures


def rank_use_cases(*, now: datetime | None = None) -> int:
    """Measure, score and store every use case's standings; the number of rows stored."""
    now = now or timezone.now()
    window_days = settings.RECOMMENDATION_WINDOW_DAYS
    min_calls, min_votes = settings.RECOMMENDATION_MIN_CALLS, settings.RECOMMENDATION_MIN_VOTES
    candidates = _candidates()
    figures = _measure({a for aliases in candidates.values() for a in aliases}, now - timedelta(days=window_days))
    rows = []
    for use_case, aliases in sorted(candidates.items()):
        measured = [scoring.Measured(
            alias=a, calls=figures[a].calls, errors=figures[a].errors, cost=figures[a].cost,
            p95_ms=rollups.percentile(figures[a].latency, 0.95) if figures[a].latency else None,
            positive=figures[a].thumbs_up + figures[a].wins,
            votes=figures[a].thumbs_up + figures[a].thumbs_down + figures[a].wins + figures[a].losses)
            for a in aliases]
        scored = scoring.rank(measured, min_calls=min_calls, min_votes=min_votes)
        for alias in aliases:
            f, s = figures[alias], scored.get(alias)
            rows.append(UseCaseStanding(
                use_case=use_case, alias=alias, computed_at=now, window_days=window_days, calls=f.calls,
                errors=f.errors, cost=f.cost,
                p50_ms=rollups.percentile(f.latency, 0.5) if f.latency else None,
                p95_ms=rollups.percentile(f.latency, 0.95) if f.latency else None,
                thumbs_up=f.thumbs_up, thumbs_down=f.thumbs_down, compare_wins=f.wins, compare_losses=f.losses,
                min_calls=min_calls, min_votes=min_votes, parts=s.parts if s else {},
                score=s.score if s else None, rank=s.rank if s else None))
    with transaction.atomic():
        UseCaseStanding.objects.all().delete()
        UseCaseStanding.objects.bulk_create(rows)
    log.info("use_cases_ranked", use_cases=len(candidates), standings=len(rows),
             ranked=sum(1 for r in rows if r.rank))
    return len(rows)
