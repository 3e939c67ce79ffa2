"""Use-case recommendations: how each model did for a use case, as the last scheduled ranking measured it.

One row per (use case, alias) holds the figures the rank came from — calls, errors, cost and latency from
the usage rollups, thumbs and compare votes from the playground and ``POST /v1/feedback`` — the score's
parts, and the rank (none when the model had too few observations to be ranked). A ranking run replaces
every row at once, so a page always shows one run, never a mix of two. The figures are company-wide
aggregates per model: no row says which team made which call.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models


class UseCaseStanding(models.Model):
    use_case = models.SlugField(max_length=50)
    alias = models.CharField(max_length=100)
    computed_at = models.DateTimeField()
    window_days = models.PositiveSmallIntegerField()
    # What was measured over the window.
    calls = models.PositiveBigIntegerField(default=0)
    errors = models.PositiveBigIntegerField(default=0)
    cost = models.DecimalField(max_digits=24, decimal_places=9, default=0)
    p50_ms = models.FloatField(null=True)
    p95_ms = models.FloatField(null=True)
    thumbs_up = models.PositiveIntegerField(default=0)
    thumbs_down = models.PositiveIntegerField(default=0)
    compare_wins = models.PositiveIntegerField(default=0)
    compare_losses = models.PositiveIntegerField(default=0)
    # The bar a model had to clear to be ranked, as it was when this row was computed.
    min_calls = models.PositiveIntegerField()
    min_votes = models.PositiveIntegerField()
    # The score's parts (each 0..1: quality, cost, latency, reliability) and the score (0..100); empty when unranked.
    parts = models.JSONField(default=dict)
    score = models.FloatField(null=True)
    rank = models.PositiveSmallIntegerField(null=True)

    class Meta:
        ordering = ["use_case", models.F("rank").asc(nulls_last=True), "alias"]
        constraints = [models.UniqueConstraint(fields=["use_case", "alias"], name="one_standing_per_use_case_alias")]
        indexes = [models.Index(fields=["use_case", "rank"])]

    def __str__(self) -> str:
        return f"{self.use_case}: {self.alias} #{self.rank or '-'}"

    @property
    def votes(self) -> int:
        return self.thumbs_up + self.thumbs_down + self.compare_wins + self.compare_losses

    @property
    def positive_share(self) -> float | None:
        return (self.thumbs_up + self.compare_wins) / self.votes if self.votes else None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.calls if self.calls else None

    @property
    def positive_percent(self) -> float | None:
        share = self.positive_share
        return None if share is None else 100 * share

    @property
    def error_percent(self) -> float | None:
        rate = self.error_rate
        return None if rate is None else 100 * rate

    @property
    def score_parts(self) -> list[tuple[str, float]]:
        """The score's parts as percentages, in the order the page explains them."""
        return [(name, 100 * self.parts[name]) for name in ("quality", "cost", "latency", "reliability")
                if name in self.parts]

    @property
    def cost_per_call(self) -> Decimal | None:
        return self.cost / self.calls if self.calls else None

    @property
    def missing(self) -> list[str]:
        """What keeps it from being ranked, in words ("12 calls of 20"), empty when it was ranked."""
        gaps = []
        if self.calls < self.min_calls:
            gaps.append(f"{self.calls} call{'s' if self.calls != 1 else ''} of {self.min_calls}")
        if self.votes < self.min_votes:
            gaps.append(f"{self.votes} vote{'s' if self.votes != 1 else ''} of {self.min_votes}")
        return gaps
