"""Usage rollups: the ledger summed per UTC hour and per UTC day, proved against it, and the ledger pruned.

Contract
- A rollup row (``portal.UsageRollup``) is a pure function of the ledger rows of its bucket, per
  key, alias and endpoint: requests, errors (status >= 400), prompt and completion tokens, cost and a
  latency histogram. ``rollup_period`` recomputes whole buckets with aggregate queries (GROUP BY in
  the database) and replaces them in one transaction per bucket, so running it again, or while the
  gateway writes, converges on the ledger and never counts a call twice.
- Hourly and daily rollups are both computed from the ledger, not the day from its hours: each can
  be proved against the source on its own, and a wrong hourly row cannot leak into its day. The
  price is that a daily build reads the day's events (through the ``occurred_at`` index). Measured
  on PostgreSQL (2 shared cores), a day of 500,000 events: its daily rollup 1.3-2.3 s, its 24 hourly
  ones 2.2 s, reconciling both 2.3 s, pruning it (verify, then delete) 4.5 s.
- ``reconcile`` compares every rollup row of a period with the ledger (all six measures) and
  rebuilds the buckets that differ; ``prune_ledger`` deletes raw events of days older than the
  retention, a day at a time, only once that day's rollups equal its events. Rollups are kept.
- Beyond the retention the rollups are the record, not the ledger: ``rollup_period`` and
  ``reconcile`` never rebuild a bucket older than ``ledger_complete_since()`` (the retention
  horizon, or the oldest day the ledger still holds if that is later), since rebuilding a pruned
  bucket from what is left of it would erase the spend it recorded.

Latency: ``latency_buckets[i]`` counts calls whose ``total_ms`` lies in
``(LATENCY_BOUNDS_MS[i-1], LATENCY_BOUNDS_MS[i]]``; the last bucket holds everything above 60 s.
Histograms merge by adding counts, so a day's p95 comes from its hours (or from any set of rows)
exactly as from its events, up to the estimate inside one bucket (see ``percentile``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

import structlog
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q, Sum
from django.db.models.functions import Trunc
from django.utils import timezone

from portal.models import UsageEvent, UsageRollup

log = structlog.get_logger("switchboard.portal.rollups")

HOUR, DAY = "hour", "day"
GRANULARITIES = (HOUR, DAY)
STEP = {HOUR: timedelta(hours=1), DAY: timedelta(days=1)}

# Log-spaced upper bounds (ms) of the latency buckets, on total_ms; one more bucket above the last.
# Changing them changes what stored counts mean: rebuild every rollup the ledger still holds.
LATENCY_BOUNDS_MS: tuple[float, ...] = (5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000)
LATENCY_BUCKETS = len(LATENCY_BOUNDS_MS) + 1

_ADVISORY_LOCK_CLASS = 0x5B0110  # PostgreSQL advisory lock namespace of rollup buckets (any int4)

MEASURES = ("requests", "errors", "prompt_tokens", "completion_tokens", "cost", "latency_buckets")
_DIMENSIONS = ("tenant_id", "application_id", "key_id", "alias", "endpoint_id")

Row = dict[str, Any]  # one rollup row's dimensions and measures, as UsageRollup's field names
RowKey = tuple[datetime, int, str, int]  # bucket_start, key_id, alias, endpoint_id (the unique key)
Measure = int | Decimal | list[int]  # a count, a cost or a latency histogram


# --- histograms -------------------------------------------------------------------------------

def merge(*histograms: Sequence[int]) -> list[int]:
    """Add latency histograms bucket by bucket; an empty list (no calls) counts as all zeros."""
    total = [0] * LATENCY_BUCKETS
    for histogram in histograms:
        if not histogram:
            continue
        if len(histogram) != LATENCY_BUCKETS:
            raise ValueError(f"a latency histogram has {LATENCY_BUCKETS} buckets, not {len(histogram)}")
        total = [a + b for a, b in zip(total, histogram, strict=True)]
    return total


def percentile(buckets: Sequence[int], q: float) -> float | None:
    """Estimate the ``q`` quantile (0 < q <= 1, so p95 is 0.95) in ms from histogram counts; None if empty.

    The estimate interpolates linearly inside the bucket that holds the q-th call (as Prometheus'
    ``histogram_quantile`` does), so it is exact when calls spread evenly through a bucket and never
    outside the bucket's bounds. The first bucket starts at 0 ms; in the open last one (above 60 s)
    the answer is its lower bound, 60000: "at least a minute".
    """
    if not 0 < q <= 1:
        raise ValueError("q is a fraction: 0 < q <= 1")
    counts = merge(buckets)
    total = sum(counts)
    if total == 0:
        return None
    rank = q * total
    seen = 0
    for i, count in enumerate(counts):
        if count and seen + count >= rank:
            if i == len(LATENCY_BOUNDS_MS):
                return float(LATENCY_BOUNDS_MS[-1])
            low = LATENCY_BOUNDS_MS[i - 1] if i else 0.0
            return float(low + (LATENCY_BOUNDS_MS[i] - low) * (rank - seen) / count)
        seen += count
    raise AssertionError("unreachable: the rank lies within the total")


# --- time ---------------------------------------------------------------------------------------

def _check_granularity(granularity: str) -> None:
    if granularity not in GRANULARITIES:
        raise ValueError(f"granularity is one of {GRANULARITIES}, not {granularity!r}")


def floor(moment: datetime, granularity: str) -> datetime:
    """The start of the UTC hour or day that holds ``moment`` (an aware datetime)."""
    moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=0) if granularity == DAY else moment


def bucket_range(since: datetime, until: datetime, granularity: str) -> tuple[datetime, datetime]:
    """The buckets of ``granularity`` that overlap [since, until), as [first bucket's start, last bucket's end)."""
    start, end = floor(since, granularity), floor(until, granularity)
    return start, (end if end == until else end + STEP[granularity])


def _count_buckets(start: datetime, end: datetime, granularity: str) -> int:
    return max(0, (end - start) // STEP[granularity])


def ledger_complete_since(now: datetime | None = None) -> datetime:
    """The start of the oldest UTC day whose ledger rows are all still there; rollups before it are the record.

    That is the retention horizon (``USAGE_RETENTION_DAYS`` before today), or the oldest day the
    ledger holds if that is later: after a prune, raising the retention must not make pruned days
    look rebuildable.
    """
    today = floor(now or timezone.now(), DAY)
    horizon = today - timedelta(days=settings.USAGE_RETENTION_DAYS)
    oldest = UsageEvent.objects.aggregate(oldest=Min("occurred_at"))["oldest"]
    return max(horizon, floor(oldest, DAY)) if oldest else today


# --- the two sides: the ledger's aggregates and the stored rollups --------------------------------

def _histogram_counts() -> dict[str, Count]:
    """One conditional COUNT per latency bucket, so the database computes the histogram in the GROUP BY."""
    edges = (None, *LATENCY_BOUNDS_MS, None)
    counts = {}
    for i, (low, high) in enumerate(pairwise(edges)):
        within = Q()
        if low is not None:
            within &= Q(total_ms__gt=low)
        if high is not None:
            within &= Q(total_ms__lte=high)
        counts[f"latency_{i}"] = Count("pk", filter=within)
    return counts


def _ledger_rows(start: datetime, end: datetime, granularity: str) -> dict[RowKey, Row]:
    """What the rollups of the buckets in [start, end) should hold, computed from the ledger."""
    grouped = (
        UsageEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end)
        .order_by()  # the model's default ordering must not join the GROUP BY
        .annotate(bucket=Trunc("occurred_at", granularity, tzinfo=UTC))
        .values("bucket", *_DIMENSIONS)
        .annotate(n_requests=Count("pk"), n_errors=Count("pk", filter=Q(status__gte=400)),
                  n_prompt=Sum("prompt_tokens"), n_completion=Sum("completion_tokens"), n_cost=Sum("cost"),
                  **_histogram_counts())
    )
    rows = {}
    for g in grouped:
        row = {name: g[name] for name in _DIMENSIONS} | {
            "endpoint_id": g["endpoint_id"] or 0, "requests": g["n_requests"], "errors": g["n_errors"],
            "prompt_tokens": g["n_prompt"] or 0, "completion_tokens": g["n_completion"] or 0,
            "cost": _nanos(g["n_cost"]), "latency_buckets": [g[f"latency_{i}"] for i in range(LATENCY_BUCKETS)],
        }
        rows[(g["bucket"].astimezone(UTC), row["key_id"], row["alias"], row["endpoint_id"])] = row
    return rows


def _nanos(total: Decimal | None) -> Decimal:
    """A cost sum at the rollup's precision: SQLite sums decimals as floats (0.0136080000000001), so
    the sum is rounded to the 9 places both sides store, or a rollup would never equal its ledger."""
    return Decimal(total or 0).quantize(Decimal("0.000000001"))


def _stored_rows(start: datetime, end: datetime, granularity: str) -> dict[RowKey, Row]:
    stored = UsageRollup.objects.filter(granularity=granularity, bucket_start__gte=start, bucket_start__lt=end)
    return {(r["bucket_start"].astimezone(UTC), r["key_id"], r["alias"], r["endpoint_id"]): r
            for r in stored.order_by().values("bucket_start", *_DIMENSIONS, *MEASURES)}


def _buckets_with_data(start: datetime, end: datetime, granularity: str) -> list[datetime]:
    """Bucket starts in [start, end) that hold events or rollups; the others need no work."""
    events = (UsageEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=end).order_by()
              .annotate(bucket=Trunc("occurred_at", granularity, tzinfo=UTC))
              .values_list("bucket", flat=True).distinct())
    stored = (UsageRollup.objects.filter(granularity=granularity, bucket_start__gte=start, bucket_start__lt=end)
              .order_by().values_list("bucket_start", flat=True).distinct())
    return sorted({b.astimezone(UTC) for b in events} | {b.astimezone(UTC) for b in stored})


# --- building -----------------------------------------------------------------------------------

@dataclass
class RollupResult:
    """What ``rollup_period`` did: buckets rebuilt, rollup rows written, buckets left alone beyond the ledger."""

    granularity: str
    buckets: int = 0
    rows: int = 0
    skipped: int = 0


def _lock_bucket(granularity: str, bucket_start: datetime) -> None:
    """Serialise writers of one bucket until the transaction ends (two rebuilds would collide on the unique key).

    SQLite needs nothing: its IMMEDIATE transactions already admit one writer at a time.
    """
    if connection.vendor != "postgresql":
        return
    slot = int(bucket_start.timestamp()) // 3600 * 2 + (granularity == DAY)  # fits int4 for 100,000 years
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_LOCK_CLASS, slot])


def _rebuild_bucket(granularity: str, bucket_start: datetime, *, beyond_ledger_ok: bool = False) -> int | None:
    """Replace one bucket's rollups with the ledger's aggregates; returns the rows written, None if skipped.

    The retention check is repeated under the lock because a prune may have emptied the bucket while
    this waited; only the prune itself (which has just verified the bucket) passes ``beyond_ledger_ok``.
    """
    with transaction.atomic():
        _lock_bucket(granularity, bucket_start)
        if not beyond_ledger_ok and bucket_start < ledger_complete_since():
            return None
        rows = _ledger_rows(bucket_start, bucket_start + STEP[granularity], granularity)
        UsageRollup.objects.filter(granularity=granularity, bucket_start=bucket_start).delete()
        UsageRollup.objects.bulk_create(
            UsageRollup(granularity=granularity, bucket_start=bucket_start, **row) for row in rows.values())
    return len(rows)


def rollup_period(start: datetime, end: datetime, granularity: str) -> RollupResult:
    """Recompute from the ledger the ``granularity`` rollups of every bucket that overlaps [start, end).

    Idempotent and safe to run concurrently with itself and with the ledger's writers. Buckets older
    than ``ledger_complete_since()`` are skipped (counted in ``skipped``): their rollups are the record.
    """
    _check_granularity(granularity)
    first, end = bucket_range(start, end, granularity)
    complete = max(first, ledger_complete_since())
    result = RollupResult(granularity, skipped=_count_buckets(first, min(complete, end), granularity))
    for bucket in _buckets_with_data(complete, end, granularity):
        written = _rebuild_bucket(granularity, bucket)
        if written is None:
            result.skipped += 1
            continue
        result.buckets += 1
        result.rows += written
    log.info("usage_rollup", granularity=granularity, start=first.isoformat(), end=end.isoformat(),
             buckets=result.buckets, rows=result.rows, skipped=result.skipped)
    return result


def rollup_recent(granularity: str, *, now: datetime | None = None) -> RollupResult:
    """Roll up the last completed bucket and the current one (hour: the beat task every 5 minutes; day: hourly).

    The previous bucket is included so calls written to the ledger after it closed (the ledger is
    about a second behind the gateway, longer after an outage) are counted.
    """
    current = floor(now or timezone.now(), granularity)
    return rollup_period(current - STEP[granularity], current + STEP[granularity], granularity)


# --- reconciling --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Difference:
    """One measure of one rollup row that disagrees with the ledger (a missing row reads as zeros)."""

    granularity: str
    bucket_start: datetime
    key_id: int
    alias: str
    endpoint_id: int
    measure: str
    ledger: Measure
    rollup: Measure

    def __str__(self) -> str:
        return (f"{self.granularity} {self.bucket_start:%Y-%m-%d %H:%M} key {self.key_id} alias {self.alias} "
                f"endpoint {self.endpoint_id}: {self.measure} is {self.rollup} in the rollup, {self.ledger} in the ledger")


@dataclass
class ReconcileReport:
    """What ``reconcile`` proved: buckets compared, rebuilt and left alone beyond the ledger, and each difference."""

    buckets_checked: int = 0
    buckets_repaired: int = 0
    buckets_skipped: int = 0
    differences: list[Difference] = field(default_factory=list)

    @property
    def consistent(self) -> bool:
        """Every rollup equalled the ledger when compared (before any repair)."""
        return not self.differences


_NO_ROW: Row = {"requests": 0, "errors": 0, "prompt_tokens": 0, "completion_tokens": 0, "cost": Decimal(0),
                "latency_buckets": [0] * LATENCY_BUCKETS}


def _differences(start: datetime, end: datetime, granularity: str) -> list[Difference]:
    """Every measure of every rollup row in [start, end) that is not what the ledger says."""
    ledger, stored = _ledger_rows(start, end, granularity), _stored_rows(start, end, granularity)
    found = []
    for key in sorted(ledger.keys() | stored.keys()):
        expected, actual = ledger.get(key, _NO_ROW), stored.get(key, _NO_ROW)
        found += [Difference(granularity, *key, measure, expected[measure], actual[measure])
                  for measure in MEASURES if expected[measure] != actual[measure]]
    return found


def _windows(start: datetime, end: datetime) -> Iterable[tuple[datetime, datetime]]:
    """[start, end) in one-day windows, so a long period is compared without holding it all in memory."""
    while start < end:
        yield start, min(start + STEP[DAY], end)
        start += STEP[DAY]


def reconcile(since: datetime, until: datetime, *, granularities: Sequence[str] = GRANULARITIES,
              repair: bool = True) -> ReconcileReport:
    """Prove that the rollups of every bucket overlapping [since, until) equal the ledger; rebuild those that do not.

    Compares requests, errors, tokens, cost and the latency histogram of every row; with
    ``repair=False`` it only reports. Buckets older than ``ledger_complete_since()`` are skipped.
    """
    report = ReconcileReport()
    complete_since = ledger_complete_since()
    for granularity in granularities:
        _check_granularity(granularity)
        first, end = bucket_range(since, until, granularity)
        complete = max(first, complete_since)
        report.buckets_skipped += _count_buckets(first, min(complete, end), granularity)
        for window_start, window_end in _windows(complete, end):
            report.buckets_checked += _count_buckets(window_start, window_end, granularity)
            differences = _differences(window_start, window_end, granularity)
            report.differences += differences
            if repair:
                for bucket in sorted({d.bucket_start for d in differences}):
                    report.buckets_repaired += _rebuild_bucket(granularity, bucket) is not None
    if report.differences:
        log.warning("usage_rollups_differed", since=since.isoformat(), until=until.isoformat(),
                    differences=len(report.differences), repaired=report.buckets_repaired)
    return report


def reconcile_recent(*, days: int = 1, now: datetime | None = None) -> ReconcileReport:
    """Reconcile and repair the last ``days`` days of hourly and daily rollups (the daily beat task)."""
    now = now or timezone.now()
    return reconcile(now - timedelta(days=days), now)


# --- pruning ------------------------------------------------------------------------------------

@dataclass
class PruneReport:
    """What ``prune_ledger`` did: days whose events were deleted, how many, and days kept because they did not reconcile."""

    cutoff: datetime
    days_pruned: int = 0
    events_deleted: int = 0
    days_kept: list[datetime] = field(default_factory=list)


def _ledger_covers_rollups(day: datetime) -> bool:
    """Whether the ledger holds at least the calls the day's rollups count, row by row (so a rebuild loses nothing).

    It does not when the day was pruned before and late events arrived since, or a rollup was raised by hand.
    """
    end = day + STEP[DAY]
    for granularity in GRANULARITIES:
        ledger = _ledger_rows(day, end, granularity)
        if any(key not in ledger or ledger[key]["requests"] < row["requests"]
               for key, row in _stored_rows(day, end, granularity).items()):
            return False
    return True


def _delete_events(day: datetime) -> int:
    """Delete one day's events in batches of an hour: one DELETE per hour, each an index range of its own.

    Measured on PostgreSQL with 500,000 events in a day: one DELETE took 1.0 s; batches of 5,000
    primary keys took 8.6 s, since each batch's look-up stepped over the rows already deleted.
    Hour slices never overlap, so they cost what one DELETE costs, with a bounded statement each.
    """
    deleted = 0
    for hour in range(24):
        start = day + timedelta(hours=hour)
        deleted += UsageEvent.objects.filter(occurred_at__gte=start, occurred_at__lt=start + STEP[HOUR]).delete()[0]
    return deleted


def _prune_day(day: datetime) -> int | None:
    """Delete one UTC day's events once its hourly and daily rollups equal them; None if the day is kept.

    One transaction: the rollups that make the events redundant and the deletion commit together,
    so an interrupted prune leaves the day whole, never half-deleted.
    """
    end = day + STEP[DAY]
    with transaction.atomic():
        _lock_bucket(DAY, day)
        for hour in range(24):
            _lock_bucket(HOUR, day + timedelta(hours=hour))
        stale = {(d.granularity, d.bucket_start) for g in GRANULARITIES for d in _differences(day, end, g)}
        if stale and not _ledger_covers_rollups(day):
            log.warning("usage_prune_kept_day", day=day.isoformat(), reason="rollups count calls the ledger lacks")
            return None
        for granularity, bucket in sorted(stale):
            _rebuild_bucket(granularity, bucket, beyond_ledger_ok=True)
        return _delete_events(day)


def prune_ledger(older_than_days: int | None = None, *, now: datetime | None = None) -> PruneReport:
    """Delete raw ledger events of the UTC days older than ``older_than_days`` (default ``USAGE_RETENTION_DAYS``).

    A day's events go only once its rollups equal them (stale rollups are rebuilt first); a day whose
    rollups count more than the ledger holds is kept and reported. Rollups are never deleted.
    """
    days = settings.USAGE_RETENTION_DAYS if older_than_days is None else older_than_days
    if days < 1:
        raise ValueError("older_than_days is at least 1: today's events are still being written")
    cutoff = floor(now or timezone.now(), DAY) - timedelta(days=days)
    report = PruneReport(cutoff=cutoff)
    old_days = (UsageEvent.objects.filter(occurred_at__lt=cutoff).order_by()
                .annotate(day=Trunc("occurred_at", DAY, tzinfo=UTC)).values_list("day", flat=True).distinct())
    for day in sorted(d.astimezone(UTC) for d in old_days):
        deleted = _prune_day(day)
        if deleted is None:
            report.days_kept.append(day)
            continue
        report.days_pruned += 1
        report.events_deleted += deleted
    log.info("usage_ledger_pruned", cutoff=cutoff.isoformat(), days=report.days_pruned,
             events=report.events_deleted, kept=len(report.days_kept))
    return report
