"""How a use case's models are scored and ranked from what was measured (pure: no database).

A model is ranked only with at least ``min_calls`` calls and ``min_votes`` votes (thumbs and compare votes)
in the window; fewer, and its figures are shown but it gets no rank. Among the ranked, the score is

    100 × (0.50 quality + 0.20 cost + 0.15 latency + 0.15 reliability)

- quality: the lower bound of the 95 % Wilson interval of the share of positive votes (thumbs up and compare
  wins over all votes), so 9 of 10 ranks below 90 of 100: a few lucky votes do not win;
- cost: 1 for the cheapest cost per call among the ranked, 0 for the dearest, linear between;
- latency: the same on p95 latency;
- reliability: 1 - the error rate.

With one ranked model (or all equal) cost and latency are 1. Ties rank by name.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

WEIGHTS = {"quality": 0.50, "cost": 0.20, "latency": 0.15, "reliability": 0.15}
Z = 1.96  # 95 %


@dataclass(frozen=True)
class Measured:
    alias: str
    calls: int
    errors: int
    cost: Decimal
    p95_ms: float | None
    positive: int  # thumbs up + compare wins
    votes: int     # every thumb and compare vote

    @property
    def cost_per_call(self) -> float:
        return float(self.cost) / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Scored:
    alias: str
    parts: dict[str, float]
    score: float
    rank: int


def wilson_lower_bound(positive: int, total: int) -> float:
    if total <= 0:
        return 0.0
    share = positive / total
    centre = share + Z * Z / (2 * total)
    spread = Z * math.sqrt(share * (1 - share) / total + Z * Z / (4 * total * total))
    return max(0.0, (centre - spread) / (1 + Z * Z / total))


def _lower_is_better(value: float, low: float, high: float) -> float:
    return 1.0 if high <= low else (high - value) / (high - low)


def qualifies(m: Measured, *, min_calls: int, min_votes: int) -> bool:
    return m.calls >= min_calls and m.votes >= min_votes


def rank(measured: list[Measured], *, min_calls: int, min_votes: int) -> dict[str, Scored]:
    """The ranked models of one use case by alias; those with too few observations are left out."""
    ranked = [m for m in measured if qualifies(m, min_calls=min_calls, min_votes=min_votes)]
    if not ranked:
        return {}
    costs = [m.cost_per_call for m in ranked]
    latencies = [m.p95_ms for m in ranked if m.p95_ms is not None]
    scored = []
    for m in ranked:
        parts = {
            "quality": wilson_lower_bound(m.positive, m.votes),
            "cost": _lower_is_better(m.cost_per_call, min(costs), max(costs)),
            "latency": (_lower_is_better(m.p95_ms, min(latencies), max(latencies))
                        if m.p95_ms is not None else 0.0),
            "reliability": 1.0 - m.errors / m.calls,
        }
        score = 100 * sum(WEIGHTS[name] * value for name, value in parts.items())
        scored.append((m.alias, {k: round(v, 4) for k, v in parts.items()}, round(score, 1)))
    scored.sort(key=lambda item: (-item[2], item[0]))
    return {alias: Scored(alias=alias, parts=parts, score=score, rank=i)
            for i, (alias, parts, score) in enumerate(scored, start=1)}
