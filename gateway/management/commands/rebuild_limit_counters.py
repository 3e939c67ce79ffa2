"""Rebuild the shared limiter's budget counters from the ledger, e.g. after Redis lost its data."""

from __future__ import annotations

import asyncio

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gateway.limits import Periods
from gateway.limits.redis_limiter import RedisLimiter
from portal.limits import period_spend
from portal.selectors import gateway_limit_table


class Command(BaseCommand):
    help = ("Raise every budgeted level's spend counters for this UTC day and month in Redis to at least what the "
            "ledger holds (never lowers them: calls not yet in the ledger stay counted). Rate windows (a minute "
            "long) and calls in flight need no rebuild.")

    def handle(self, *args, **options):
        if not settings.REDIS_URL:
            raise CommandError("REDIS_URL is not set: the embedded mode's limiter reloads its spend from the ledger "
                               "when the gateway starts.")
        spend = period_spend(gateway_limit_table())

        async def rebuild() -> int:
            limiter = RedisLimiter()
            try:
                return await limiter.seed_spend(spend, Periods.at())
            finally:
                await limiter.close()

        count = asyncio.run(rebuild())
        self.stdout.write(f"Rebuilt {count} budget counter(s) from the ledger.")
