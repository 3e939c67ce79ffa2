"""What the catalogue and the ranking page read: a use case's stored standings and the examples behind them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from aiplatform.models import User
from examples.models import Example
from examples.selectors import best_for_alias
from recommendations.models import UseCaseStanding
from registry.selectors import visible_aliases


@dataclass(frozen=True)
class Standing:
    row: UseCaseStanding
    examples: list[Example]


@dataclass(frozen=True)
class Ranking:
    use_case: str
    computed_at: datetime | None
    window_days: int | None
    ranked: list[Standing]
    too_few: list[Standing]  # measured, but below the bar to be ranked

    @property
    def measured(self) -> bool:
        return self.computed_at is not None


def ranking_for(user: User, use_case: str, *, examples_per_model: int = 3) -> Ranking:
    """The last run's standings of ``use_case`` among the models ``user`` may browse, with, for each, the best
    examples of it for this use case that ``user`` may see."""
    rows = list(UseCaseStanding.objects.filter(use_case=use_case,
                                               alias__in=visible_aliases(user).values("name")))
    standings = [Standing(row=row, examples=best_for_alias(user, row.alias, use_case=use_case,
                                                            limit=examples_per_model)) for row in rows]
    first = rows[0] if rows else None
    return Ranking(use_case=use_case, computed_at=first.computed_at if first else None,
                   window_days=first.window_days if first else None,
                   ranked=[s for s in standings if s.row.rank is not None],
                   too_few=[s for s in standings if s.row.rank is None])


def ranked_use_cases() -> list[str]:
    """The use cases the last run measured, for the index of rankings."""
    return list(UseCaseStanding.objects.order_by("use_case").values_list("use_case", flat=True).distinct())
