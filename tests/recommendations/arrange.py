"""Measurements to rank: calls in the ledger (rolled up as the hourly task does), thumbs and compare votes."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from portal import rollups
from portal.models import ComparedAnswer, Comparison, Feedback, UsageEvent
from registry import services as registry_services


@dataclass(frozen=True)
class Seed:
    calls: int
    errors: int
    cost_per_call: str
    total_ms: float
    thumbs_up: int
    thumbs_down: int


def seed_use_case(*, make_alias, tenant, app, key, user, use_case: str, seeds: dict[str, Seed],
                  compare_wins: tuple[str, str, int] | None = None) -> None:
    """For each alias (created with a card listing ``use_case``): its calls over the last days, its thumbs; and
    ``compare_wins`` = (winner, loser, n) comparisons voted for the winner. Then the day rollups are built."""
    now = timezone.now()
    for name, seed in seeds.items():
        alias = make_alias(name)
        registry_services.update_card(actor=None, alias=alias, use_cases=[use_case])
        UsageEvent.objects.bulk_create(
            UsageEvent(request_id=secrets.token_hex(16), occurred_at=now - timedelta(hours=i % 72), tenant=tenant,
                       application=app, key=key, alias=name, operation="chat", prompt_tokens=100,
                       completion_tokens=50, total_tokens=150,
                       cost=Decimal(0) if i < seed.errors else Decimal(seed.cost_per_call),
                       total_ms=seed.total_ms, status=502 if i < seed.errors else 200,
                       error_class="upstream_error" if i < seed.errors else "")
            for i in range(seed.calls))
        Feedback.objects.bulk_create(
            Feedback(tenant=tenant, request_id=secrets.token_hex(16), alias=name, user=user,
                     rating="up" if i < seed.thumbs_up else "down", category="" if i < seed.thumbs_up else "unhelpful")
            for i in range(seed.thumbs_up + seed.thumbs_down))
    if compare_wins:
        winner, loser, n = compare_wins
        for _ in range(n):
            comparison = Comparison.objects.create(user=user, team=tenant, prompt="Summarise this", voted_at=now)
            won = ComparedAnswer.objects.create(comparison=comparison, slot=0, alias=winner, content="short")
            ComparedAnswer.objects.create(comparison=comparison, slot=1, alias=loser, content="long")
            comparison.winner = won
            comparison.save(update_fields=["winner"])
    rollups.rollup_period(now - timedelta(days=4), now + timedelta(hours=1), rollups.DAY)


# The arrangement the tests rank: sharp is cheap, fast and liked; slow costs 5x, is slower and disliked;
# fresh has too few calls and votes to be ranked.
SUMMARY_SEEDS = {
    "sharp-summary": Seed(calls=30, errors=1, cost_per_call="0.002", total_ms=400, thumbs_up=8, thumbs_down=1),
    "slow-summary": Seed(calls=25, errors=3, cost_per_call="0.010", total_ms=3000, thumbs_up=2, thumbs_down=5),
    "fresh-summary": Seed(calls=5, errors=0, cost_per_call="0.001", total_ms=200, thumbs_up=1, thumbs_down=0),
}
