"""The in-process limiter: the Lua scripts' algorithm on this process's own counters.

The embedded mode runs one gateway process, so its counters are the whole truth; budgets are
seeded from the ledger when the limit table loads (``seed_spend``), so a restart does not forget
the day's spend. In the full stack it stands in while Redis is unreachable, for levels that fail
open, with every rate and concurrency limit divided by ``share`` (the number of processes).

Everything runs on the event loop thread between awaits, so no lock is needed: a method runs to
completion before another call's starts, which makes each admission atomic like the Lua script.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from gateway.limits import Admission, Demand, Periods
from portal.limits import LimitRule

WINDOW_MS = 60_000


@dataclass(slots=True)
class _Window:
    used: int = 0
    ends_at: float = 0.0  # ms, monotonic


@dataclass(slots=True)
class _Budget:
    tok: int = 0
    cost: int = 0
    rtok: int = 0
    rcost: int = 0


@dataclass(slots=True)
class _Level:
    rpm: _Window = field(default_factory=_Window)
    tpm: _Window = field(default_factory=_Window)
    bucket: float | None = None
    bucket_at: float = 0.0
    in_flight: dict[str, tuple[float, int, int, str, str]] = field(default_factory=dict)  # rid → expiry, tok, cost…


def _now_ms() -> float:
    return time.monotonic() * 1000


def _scaled(value: int | None, share: int) -> int | None:
    return None if value is None else max(1, value // share)


class LocalLimiter:
    def __init__(self, *, share: int = 1, flight_ttl_ms: int = 900_000) -> None:
        self.share = max(1, share)
        self.flight_ttl_ms = flight_ttl_ms
        self._levels: dict[str, _Level] = {}
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._day = ""

    def _forget_past_periods(self, periods: Periods) -> None:
        """At a new UTC day, drop the counters of periods that ended (they would only grow the process)."""
        self._day = periods.day
        current = {periods.day, periods.month}
        self._budgets = {k: v for k, v in self._budgets.items() if k[1] in current}

    def _level(self, counter: str) -> _Level:
        level = self._levels.get(counter)
        if level is None:
            level = self._levels[counter] = _Level()
        return level

    def _budget(self, counter: str, period: str) -> _Budget:
        budget = self._budgets.get((counter, period))
        if budget is None:
            budget = self._budgets[(counter, period)] = _Budget()
        return budget

    def seed_spend(self, spend: Mapping[tuple[str, str], tuple[int, int]]) -> None:
        """Raise budget counters to at least what the ledger says: ``(counter, period) → (tokens, cost nano)``."""
        for (counter, period), (tokens, cost) in spend.items():
            budget = self._budget(counter, period)
            budget.tok, budget.cost = max(budget.tok, tokens), max(budget.cost, cost)

    def _purge(self, level: _Level, now: float) -> None:
        """Release calls in flight past their expiry. Every call gets the same time to live, so the dict's
        insertion order is expiry order: stop at the first live one (not a scan of every call in flight)."""
        dead = []
        for rid, held in level.in_flight.items():
            if held[0] > now:
                break
            dead.append(rid)
        for rid in dead:
            self._release(level, rid)

    def _release(self, level: _Level, rid: str) -> None:
        held = level.in_flight.pop(rid, None)
        if held is None:
            return
        _, tok, cost, day_key, month_key = held
        for key in (day_key, month_key):
            if key:
                budget = self._budgets.get(tuple(key.split("|", 1)))
                if budget is not None:
                    budget.rtok -= tok
                    budget.rcost -= cost

    @staticmethod
    def _window(window: _Window, now: float) -> _Window:
        if window.ends_at <= now:
            window.used, window.ends_at = 0, 0.0
        return window

    def _budget_refusal(self, rule: LimitRule, budget: _Budget | None, measure: str, limit: int | None,
                        need: int) -> bool:
        if limit is None:
            return False
        used = getattr(budget, measure, 0) if budget else 0
        held = getattr(budget, "r" + measure, 0) if budget else 0
        return used + held + need > limit if rule.strict else used >= limit

    def admit_now(self, rules: Sequence[LimitRule], demand: Demand, periods: Periods) -> Admission:
        if periods.day != self._day:
            self._forget_past_periods(periods)
        now = _now_ms()
        share = self.share
        refused: tuple[LimitRule, str, int] | None = None
        shadows: list[str] = []
        buckets: dict[int, float] = {}
        for i, rule in enumerate(rules):
            level = self._level(rule.counter)
            rpm, tpm = _scaled(rule.requests_per_minute, share), _scaled(rule.tokens_per_minute, share)
            conc, burst = _scaled(rule.max_concurrency, share), _scaled(rule.burst, share)
            why, wait = None, 0
            if conc is not None or rule.strict:
                self._purge(level, now)
            if rpm is not None:
                window = self._window(level.rpm, now)
                if window.used + 1 > rpm:
                    why, wait = "requests_per_minute", int(window.ends_at - now)
            if why is None and burst is not None:
                rate = (rpm if rpm is not None else burst) / WINDOW_MS
                left = burst if level.bucket is None else min(burst, level.bucket + (now - level.bucket_at) * rate)
                buckets[i] = left
                if left < 1:
                    why, wait = "burst", math.ceil((1 - left) / rate)
            if why is None and tpm is not None:
                window = self._window(level.tpm, now)
                if window.used > 0 and window.used + demand.reserve_tokens > tpm:
                    why, wait = "tokens_per_minute", int(window.ends_at - now)
            if why is None and conc is not None and len(level.in_flight) >= conc:
                why, wait = "max_concurrency", 1000
            if why is None and rule.has_budget:
                day = self._budgets.get((rule.counter, periods.day))
                month = self._budgets.get((rule.counter, periods.month))
                checks = (("tokens_per_day", day, "tok", rule.tokens_per_day, demand.reserve_tokens,
                           periods.day_reset_ms),
                          ("tokens_per_month", month, "tok", rule.tokens_per_month, demand.reserve_tokens,
                           periods.month_reset_ms),
                          ("cost_per_day", day, "cost", rule.cost_per_day_nano, demand.max_cost_nano,
                           periods.day_reset_ms),
                          ("cost_per_month", month, "cost", rule.cost_per_month_nano, demand.max_cost_nano,
                           periods.month_reset_ms))
                for what, budget, measure, limit, need, reset in checks:
                    if self._budget_refusal(rule, budget, measure, limit, need):
                        why, wait = what, reset
                        break
            if why is not None:
                if rule.shadow:
                    shadows.append(f"{rule.counter}:{why}")
                elif refused is None:
                    refused = (rule, why, wait)
        if refused is None:
            for i, rule in enumerate(rules):
                self._charge(rule, demand, periods, now, buckets.get(i))
        admission = self._headers(rules, now)
        admission.shadow = ",".join(shadows)
        admission.rules, admission.demand, admission.periods, admission.via = tuple(rules), demand, periods, "local"
        if refused is not None:
            admission.admitted = False
            admission.refused_by, admission.refused_what, admission.retry_after_ms = refused[0], refused[1], max(
                refused[2], 0)
        return admission

    async def admit(self, rules: Sequence[LimitRule], demand: Demand, periods: Periods) -> Admission:
        return self.admit_now(rules, demand, periods)

    def _charge(self, rule: LimitRule, demand: Demand, periods: Periods, now: float, bucket: float | None) -> None:
        level = self._level(rule.counter)
        if rule.requests_per_minute is not None:
            window = self._window(level.rpm, now)
            window.ends_at = window.ends_at or now + WINDOW_MS
            window.used += 1
        if rule.tokens_per_minute is not None:
            window = self._window(level.tpm, now)
            window.ends_at = window.ends_at or now + WINDOW_MS
            window.used += demand.reserve_tokens
        if rule.burst is not None:
            burst = _scaled(rule.burst, self.share)
            level.bucket, level.bucket_at = (bucket if bucket is not None else burst) - 1, now
        if rule.max_concurrency is not None or rule.strict:
            tok = cost = 0
            day_key = month_key = ""
            if rule.strict and rule.has_budget:
                tok, cost = demand.reserve_tokens, demand.max_cost_nano
                for period in (periods.day, periods.month):
                    budget = self._budget(rule.counter, period)
                    budget.rtok += tok
                    budget.rcost += cost
                day_key, month_key = f"{rule.counter}|{periods.day}", f"{rule.counter}|{periods.month}"
            level.in_flight[demand.request_id] = (now + self.flight_ttl_ms, tok, cost, day_key, month_key)

    def _headers(self, rules: Sequence[LimitRule], now: float) -> Admission:
        admission = Admission(admitted=True)
        for rule in rules:
            if rule.shadow:
                continue
            level = self._levels.get(rule.counter)
            rpm, tpm = _scaled(rule.requests_per_minute, self.share), _scaled(rule.tokens_per_minute, self.share)
            if rpm is not None:
                window = self._window(level.rpm, now) if level else _Window()
                left = max(rpm - window.used, 0)
                if admission.requests_remaining < 0 or left < admission.requests_remaining:
                    admission.request_limit, admission.requests_remaining = rpm, left
                    admission.requests_reset_ms = int(window.ends_at - now) if window.ends_at else WINDOW_MS
            if tpm is not None:
                window = self._window(level.tpm, now) if level else _Window()
                left = max(tpm - window.used, 0)
                if admission.tokens_remaining < 0 or left < admission.tokens_remaining:
                    admission.token_limit, admission.tokens_remaining = tpm, left
                    admission.tokens_reset_ms = int(window.ends_at - now) if window.ends_at else WINDOW_MS
        return admission

    def settle_now(self, admission: Admission | None, *, tokens: int, cost_nano: int,
                   rules: Sequence[LimitRule] = ()) -> None:
        periods = (admission.periods if admission is not None else None) or Periods.at()
        charged = admission.rules if admission is not None and admission.admitted else tuple(rules)
        reserved = admission.demand.reserve_tokens if admission is not None and admission.demand else 0
        rid = admission.demand.request_id if admission is not None and admission.demand else ""
        now = _now_ms()
        for rule in charged:
            level = self._level(rule.counter)
            if rule.tokens_per_minute is not None and tokens > reserved:
                window = self._window(level.tpm, now)
                window.ends_at = window.ends_at or now + WINDOW_MS
                window.used += tokens - reserved
            if rid:
                self._release(level, rid)
            if rule.has_budget:
                for period in (periods.day, periods.month):
                    budget = self._budget(rule.counter, period)
                    budget.tok += tokens
                    budget.cost += cost_nano

    def peek(self, rules: Sequence[LimitRule], periods: Periods) -> list[dict[str, int]]:
        """What each level has used right now (for ``GET /v1/usage``)."""
        now = _now_ms()
        used = []
        for rule in rules:
            level = self._levels.get(rule.counter) or _Level()
            day = self._budgets.get((rule.counter, periods.day)) or _Budget()
            month = self._budgets.get((rule.counter, periods.month)) or _Budget()
            used.append({"requests_this_minute": self._window(level.rpm, now).used,
                         "tokens_this_minute": self._window(level.tpm, now).used,
                         "in_flight": len(level.in_flight), "tokens_today": day.tok, "cost_today_nano": day.cost,
                         "tokens_this_month": month.tok, "cost_this_month_nano": month.cost})
        return used
