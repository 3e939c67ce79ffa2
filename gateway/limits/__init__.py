"""Limits and budgets: admit a call against every level it must fit, settle it once it ended.

Two limiters with the same semantics (``portal.limits`` says which rules apply; the README's
"Plans and limits" says what they mean):

- ``RedisLimiter`` (full stack): one Lua script to admit, one to settle, correct across any number
  of gateway processes; the settle script also appends the call's usage event to the Redis
  stream the worker writes the ledger from, so charging and recording are one atomic step.
- ``LocalLimiter`` (embedded mode, one process): the same algorithm on in-process counters.

When Redis is unreachable, each level fails the way its plan says: ``fail_open`` levels are
enforced by the local limiter at 1/N of their limits (N = ``GATEWAY_PROCESSES``), and a
``fail_closed`` level, or any strict budget (which promises never to be exceeded), refuses with
503 until Redis is back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from portal.limits import LimitRule


@dataclass(slots=True)
class Demand:
    """What a call may use, known at admission: the tokens to reserve and, for strict budgets, its maximum cost."""

    request_id: str
    reserve_tokens: int
    max_cost_nano: int


@dataclass(slots=True)
class Admission:
    """The limiter's answer: admitted or not, why, and the figures for the rate-limit headers (-1: no such limit)."""

    admitted: bool
    refused_by: LimitRule | None = None
    refused_what: str = ""  # requests_per_minute | burst | tokens_per_minute | max_concurrency | <budget>
    retry_after_ms: int = 0
    request_limit: int = -1
    requests_remaining: int = -1
    requests_reset_ms: int = 0
    token_limit: int = -1
    tokens_remaining: int = -1
    tokens_reset_ms: int = 0
    shadow: str = ""  # shadow-mode levels that would have refused: "key:12:requests_per_minute,..."
    via: str = "redis"  # redis | local: where to settle
    rules: tuple[LimitRule, ...] = ()
    demand: Demand | None = None
    periods: Periods | None = None

    @property
    def is_budget(self) -> bool:
        return self.refused_what.startswith(("tokens_per_day", "tokens_per_month", "cost_per_"))


class LimiterUnavailable(Exception):
    """The shared limiter cannot be reached, and a level that applies fails closed."""


@dataclass(frozen=True, slots=True)
class Periods:
    """The budget periods a call falls in (UTC) and when they end."""

    day: str
    month: str
    day_reset_ms: int
    month_reset_ms: int
    day_ttl: int = field(default=0)
    month_ttl: int = field(default=0)

    @classmethod
    def at(cls, now: datetime | None = None) -> Periods:
        """The periods of ``now`` (default: this second's, computed once per second: two strftime and some
        date arithmetic cost more than the in-process limiter itself, measured)."""
        if now is None:
            second = int(time.time())
            cached = _periods_cache.get(second)
            if cached is not None:
                return cached
            periods = cls._compute(datetime.fromtimestamp(second, UTC))
            _periods_cache.clear()
            _periods_cache[second] = periods
            return periods
        return cls._compute(now)

    @classmethod
    def _compute(cls, now: datetime) -> Periods:
        tomorrow = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        next_month = (now.replace(day=28) + timedelta(days=4)).replace(day=1, hour=0, minute=0, second=0,
                                                                       microsecond=0)
        day_reset = int((tomorrow - now).total_seconds() * 1000)
        month_reset = int((next_month - now).total_seconds() * 1000)
        # Kept a day past their end, so a call settling just after midnight still finds its period.
        return cls(day=now.strftime("%Y%m%d"), month=now.strftime("%Y%m"), day_reset_ms=day_reset,
                   month_reset_ms=month_reset, day_ttl=day_reset // 1000 + 86_400,
                   month_ttl=month_reset // 1000 + 86_400)


_periods_cache: dict[int, Periods] = {}
