"""The ranking run on celery beat (recommendations/migrations/0002): hourly, on the housekeeping queue."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="recommendations.rank_use_cases")
def rank_use_cases() -> int:
    """Recompute every use case's standings from the usage rollups and the votes (replaces the last run)."""
    from recommendations import services

    return services.rank_use_cases()
