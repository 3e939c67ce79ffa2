"""The in-process limiter on its own (the embedded mode's, no Redis): dead calls expire, old periods go."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from gateway.limits import Demand, Periods
from gateway.limits.local_limiter import LocalLimiter
from portal.limits import LimitRule

pytestmark = pytest.mark.smoke


def test_a_dead_calls_slot_and_reservation_expire():
    limiter = LocalLimiter(flight_ttl_ms=50)
    rule = LimitRule(level="key", owner_id=1, max_concurrency=1, cost_per_day_nano=100, strict=True)
    periods = Periods.at()
    assert limiter.admit_now((rule,), Demand("dead", 1, 100), periods).admitted  # never settled
    refused = limiter.admit_now((rule,), Demand("next", 1, 1), periods)
    assert not refused.admitted and refused.refused_what == "max_concurrency"
    time.sleep(0.06)
    assert limiter.admit_now((rule,), Demand("later", 1, 100), periods).admitted  # slot and $ reservation back


def test_budgets_of_ended_periods_are_forgotten_at_a_new_day():
    limiter = LocalLimiter()
    rule = LimitRule(level="key", owner_id=2, cost_per_day_nano=10)
    yesterday = Periods.at(datetime(2026, 12, 1, 23, 59, tzinfo=UTC))
    admission = limiter.admit_now((rule,), Demand("a", 1, 0), yesterday)
    limiter.settle_now(admission, tokens=1, cost_nano=10)
    assert not limiter.admit_now((rule,), Demand("b", 1, 0), yesterday).admitted  # yesterday's budget is spent
    today = Periods.at(datetime(2026, 12, 2, 0, 1, tzinfo=UTC))
    assert limiter.admit_now((rule,), Demand("c", 1, 0), today).admitted
    assert all(period in (today.day, today.month) for _, period in limiter._budgets)
