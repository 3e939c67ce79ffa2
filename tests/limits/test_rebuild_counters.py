"""After a Redis loss, the budget counters come back from the ledger, and budgets bite again."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from decimal import Decimal
from io import StringIO

import pytest
import redis
from django.core.management import call_command

from gateway.limits import Demand, Periods
from gateway.limits.redis_limiter import RedisLimiter
from portal import services
from portal.models import UsageEvent
from portal.selectors import gateway_limit_table

pytestmark = [pytest.mark.django_db,
              pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (the full-stack test run)")]


def test_a_flushed_redis_is_rebuilt_from_the_ledger(make_tenant):
    tenant = make_tenant("rebuilt")
    application = services.create_application(actor=None, tenant=tenant, name="after-the-loss")
    key, _ = services.create_api_key(actor=None, application=application)
    services.set_limits(actor=None, owner=key, values={"cost_per_day": Decimal("1.00")})
    for n in range(3):
        UsageEvent.objects.create(tenant=tenant, application=application, key=key, request_id=f"loss-{n}",
                                  occurred_at=datetime.now(UTC), alias="fast-chat", operation="chat",
                                  total_tokens=10, cost=Decimal("0.40"), total_ms=5, status=200)
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # Redis lost everything

    out = StringIO()
    call_command("rebuild_limit_counters", stdout=out)
    assert "Rebuilt" in out.getvalue()

    rule = gateway_limit_table().keys[key.pk]

    async def admitted() -> bool:
        limiter = RedisLimiter()
        try:
            return (await limiter.admit((rule,), Demand("after", 10, 0), Periods.at())).admitted
        finally:
            await limiter.close()

    assert not asyncio.run(admitted())  # $1.20 already spent today against $1.00: the budget still bites
