"""Usage rollups equal the ledger: built, reconciled, repaired, merged, and kept when the raw events are pruned."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from celery import current_app
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from portal import rollups, tasks
from portal.models import UsageEvent, UsageRollup

pytestmark = pytest.mark.django_db

_ids = itertools.count(1)
YESTERDAY = rollups.floor(timezone.now(), rollups.DAY) - timedelta(days=1)
TEN, ELEVEN = YESTERDAY + timedelta(hours=10), YESTERDAY + timedelta(hours=11)


def record(api_key, at: datetime, *, total_ms: float = 80, status: int = 200, prompt: int = 10, completion: int = 5,
           cost: str = "0.001", alias: str = "fast-chat", endpoint=None) -> UsageEvent:
    """One call in the ledger, as the usage intake writes it."""
    return UsageEvent.objects.create(
        request_id=f"req-{next(_ids)}", occurred_at=at, tenant_id=api_key.tenant_id,
        application_id=api_key.application_id, key=api_key, alias=alias, endpoint=endpoint, operation="chat",
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion, cost=Decimal(cost),
        ttfb_ms=total_ms / 2, total_ms=total_ms, status=status)


def rollup(granularity: str, bucket_start: datetime, alias: str = "fast-chat") -> UsageRollup:
    return UsageRollup.objects.get(granularity=granularity, bucket_start=bucket_start, alias=alias)


def build_yesterday() -> None:
    for granularity in rollups.GRANULARITIES:
        rollups.rollup_period(YESTERDAY, YESTERDAY + timedelta(days=1), granularity)


@pytest.fixture
def endpoint(alias):
    return alias.routes.get().endpoint


@pytest.fixture
def two_hours(api_key, endpoint):
    """Yesterday 10:00 to 12:00: two aliases, one call without an endpoint, one error."""
    record(api_key, TEN + timedelta(minutes=1), endpoint=endpoint, prompt=100, completion=20, cost="0.014")
    record(api_key, TEN + timedelta(minutes=59), endpoint=endpoint, status=429, prompt=0, completion=0, cost="0")
    record(api_key, TEN + timedelta(minutes=30), alias="other-chat", total_ms=1200, cost="0.002")
    record(api_key, ELEVEN, endpoint=endpoint, total_ms=30, prompt=7, completion=3, cost="0.0005")
    record(api_key, ELEVEN + timedelta(minutes=10), status=502, endpoint=None, cost="0")


@pytest.mark.smoke
def test_rollups_equal_the_ledger_after_a_build(two_hours, endpoint):
    build_yesterday()

    ten = rollup("hour", TEN)
    assert (ten.requests, ten.errors, ten.prompt_tokens, ten.completion_tokens) == (2, 1, 100, 20)
    assert ten.cost == Decimal("0.014")
    assert ten.endpoint_id == endpoint.pk
    assert rollup("hour", TEN, alias="other-chat").requests == 1
    assert UsageRollup.objects.get(granularity="hour", bucket_start=ELEVEN, endpoint_id=0).errors == 1
    day = UsageRollup.objects.filter(granularity="day", bucket_start=YESTERDAY, alias="fast-chat")
    assert sum(r.requests for r in day) == 4
    assert sum(r.cost for r in day) == Decimal("0.0145")
    assert rollups.reconcile(YESTERDAY, YESTERDAY + timedelta(days=1)).consistent


def test_hourly_rows_are_per_key_alias_and_endpoint(two_hours):
    build_yesterday()

    assert UsageRollup.objects.filter(granularity="hour").count() == 4  # 10:00 ×2 aliases; 11:00 ×2 endpoints
    assert UsageRollup.objects.filter(granularity="day").count() == 3


def test_reconcile_reports_a_tampered_rollup_without_repairing_when_asked(two_hours):
    build_yesterday()
    UsageRollup.objects.filter(granularity="hour", bucket_start=TEN, alias="fast-chat").update(requests=7)

    report = rollups.reconcile(YESTERDAY, YESTERDAY + timedelta(days=1), repair=False)

    assert [(d.granularity, d.bucket_start, d.measure, d.ledger, d.rollup) for d in report.differences] == [
        ("hour", TEN, "requests", 2, 7)]
    assert report.buckets_repaired == 0
    assert rollup("hour", TEN).requests == 7


def test_reconcile_repairs_a_tampered_and_a_missing_rollup(two_hours):
    build_yesterday()
    UsageRollup.objects.filter(granularity="hour", bucket_start=TEN, alias="fast-chat").update(cost=Decimal("9"))
    UsageRollup.objects.filter(granularity="day", alias="other-chat").delete()

    report = rollups.reconcile(YESTERDAY, YESTERDAY + timedelta(days=1))

    assert report.buckets_checked == 25  # 24 hours and the day
    assert report.buckets_repaired == 2
    assert rollup("hour", TEN).cost == Decimal("0.014")
    assert rollup("day", YESTERDAY, alias="other-chat").requests == 1
    assert rollups.reconcile(YESTERDAY, YESTERDAY + timedelta(days=1)).consistent


def test_reconcile_removes_a_rollup_the_ledger_has_no_calls_for(two_hours, api_key):
    build_yesterday()
    invented = rollup("hour", TEN)
    invented.pk, invented.bucket_start = None, TEN + timedelta(hours=5)
    invented.save()

    report = rollups.reconcile(YESTERDAY, YESTERDAY + timedelta(days=1))

    assert report.buckets_repaired == 1
    assert not UsageRollup.objects.filter(bucket_start=TEN + timedelta(hours=5)).exists()


def test_rolling_up_again_changes_nothing(two_hours):
    build_yesterday()
    before = list(UsageRollup.objects.order_by("granularity", "bucket_start", "alias", "endpoint_id")
                  .values_list("granularity", "bucket_start", "alias", "requests", "cost", "latency_buckets"))

    build_yesterday()

    after = list(UsageRollup.objects.order_by("granularity", "bucket_start", "alias", "endpoint_id")
                 .values_list("granularity", "bucket_start", "alias", "requests", "cost", "latency_buckets"))
    assert after == before


def test_a_call_written_after_the_hour_closed_is_counted_once_by_the_next_run(two_hours, api_key):
    build_yesterday()
    record(api_key, TEN + timedelta(minutes=45), alias="other-chat")  # the intake caught up late

    build_yesterday()
    build_yesterday()

    assert rollup("hour", TEN, alias="other-chat").requests == 2


@pytest.mark.django_db(transaction=True)
def test_rebuilds_of_one_bucket_running_at_once_do_not_collide(api_key):
    for second in range(50):
        record(api_key, TEN + timedelta(seconds=second))
    failures = []

    def rebuild_again_and_again():
        try:
            for _ in range(20):
                rollups.rollup_period(TEN, ELEVEN, "hour")
        except Exception as exc:  # any failure, reported below with the others
            failures.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=rebuild_again_and_again) for _ in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert failures == []
    assert rollup("hour", TEN).requests == 50


def test_p50_and_p95_from_the_buckets_of_evenly_spread_latencies(api_key):
    for ms in range(1, 101):  # 1 ms … 100 ms, one call each
        record(api_key, TEN, total_ms=ms)
    rollups.rollup_period(TEN, ELEVEN, "hour")

    buckets = rollup("hour", TEN).latency_buckets

    assert rollups.percentile(buckets, 0.5) == 50
    assert rollups.percentile(buckets, 0.95) == 95


def test_p50_and_p95_of_mostly_fast_calls_with_a_slow_tail(api_key):
    for ms in [80] * 90 + [2000] * 10:
        record(api_key, TEN, total_ms=ms)
    rollups.rollup_period(TEN, ELEVEN, "hour")

    buckets = rollup("hour", TEN).latency_buckets

    assert 50 < rollups.percentile(buckets, 0.5) <= 100  # the bucket that holds 80 ms
    assert 1000 < rollups.percentile(buckets, 0.95) <= 2500  # the bucket that holds 2 s


def test_percentile_of_no_calls_and_of_calls_above_the_last_bound():
    assert rollups.percentile([], 0.5) is None
    assert rollups.percentile([0] * 13 + [4], 0.95) == 60000  # "at least a minute"


def test_merging_two_hours_gives_the_days_histogram(api_key):
    for minute, ms in enumerate([3, 40, 40, 90, 300]):
        record(api_key, TEN + timedelta(minutes=minute), total_ms=ms)
    for minute, ms in enumerate([7, 700, 4000, 45000, 90000]):
        record(api_key, ELEVEN + timedelta(minutes=minute), total_ms=ms)
    build_yesterday()

    merged = rollups.merge(rollup("hour", TEN).latency_buckets, rollup("hour", ELEVEN).latency_buckets)

    day = rollup("day", YESTERDAY).latency_buckets
    assert merged == day
    assert rollups.percentile(merged, 0.95) == rollups.percentile(day, 0.95)


def test_merge_refuses_histograms_of_other_bounds():
    with pytest.raises(ValueError, match="14 buckets"):
        rollups.merge([1, 2, 3])


def test_the_hourly_task_rolls_up_the_last_and_the_current_hour(api_key):
    this_hour = rollups.floor(timezone.now(), "hour")
    record(api_key, this_hour)
    record(api_key, this_hour - timedelta(minutes=1))

    tasks.rollup_usage_hourly()

    assert rollup("hour", this_hour).requests == 1
    assert rollup("hour", this_hour - timedelta(hours=1)).requests == 1


def test_the_daily_task_rolls_up_yesterday_and_today(api_key):
    record(api_key, TEN)
    record(api_key, rollups.floor(timezone.now(), "day"))

    tasks.rollup_usage_daily()

    assert UsageRollup.objects.filter(granularity="day").count() == 2


def test_the_reconcile_task_repairs_the_last_day(api_key):
    now = timezone.now()
    record(api_key, now - timedelta(hours=2))
    rollups.rollup_period(now - timedelta(days=1), now, "hour")
    UsageRollup.objects.filter(granularity="hour").update(requests=0)

    tasks.reconcile_usage()

    assert rollup("hour", rollups.floor(now - timedelta(hours=2), "hour")).requests == 1
    assert rollups.reconcile(now - timedelta(days=1), now, repair=False).consistent


def test_the_tasks_are_registered_and_scheduled_on_beat():
    names = {"portal.rollup_usage_hourly", "portal.rollup_usage_daily", "portal.reconcile_usage",
             "portal.prune_usage_ledger"}

    assert names <= set(current_app.tasks)
    assert set(PeriodicTask.objects.filter(task__in=names, enabled=True).values_list("task", flat=True)) == names
    assert PeriodicTask.objects.get(task="portal.rollup_usage_hourly").interval.every == 5


# --- pruning -------------------------------------------------------------------------------------

OLD = rollups.floor(timezone.now(), rollups.DAY) - timedelta(days=100)


def test_prune_deletes_old_raw_events_and_keeps_their_rollups(api_key, settings):
    settings.USAGE_RETENTION_DAYS = 90
    record(api_key, OLD + timedelta(hours=3), cost="0.25")
    record(api_key, OLD + timedelta(hours=4), status=500, cost="0")
    recent = record(api_key, TEN)

    tasks.prune_usage_ledger()

    assert list(UsageEvent.objects.all()) == [recent]
    day = rollup("day", OLD)
    assert (day.requests, day.errors, day.cost) == (2, 1, Decimal("0.25"))
    assert rollup("hour", OLD + timedelta(hours=3)).requests == 1


def test_prune_deletes_every_hour_of_each_old_day(api_key):
    for hours in (0, 5, 23.9999, 24):  # the last is the next day's first call
        record(api_key, OLD + timedelta(hours=hours))

    report = rollups.prune_ledger(90)

    assert report.events_deleted == 4
    assert report.days_pruned == 2
    assert not UsageEvent.objects.exists()
    assert rollup("hour", OLD + timedelta(hours=23)).requests == 1


def test_prune_keeps_a_day_whose_rollups_count_calls_the_ledger_does_not_have(api_key):
    record(api_key, OLD)
    rollups.prune_ledger(90)
    late = record(api_key, OLD + timedelta(hours=1))  # arrived after its day was pruned

    report = rollups.prune_ledger(90)

    assert report.days_kept == [OLD]
    assert list(UsageEvent.objects.all()) == [late]
    assert rollup("day", OLD).requests == 1


def test_pruned_days_are_never_rebuilt_even_when_the_retention_grows(api_key, settings):
    settings.USAGE_RETENTION_DAYS = 90
    record(api_key, OLD)
    record(api_key, TEN)
    rollups.prune_ledger()
    settings.USAGE_RETENTION_DAYS = 365  # the pruned day is inside the retention again, but its events are gone

    report = rollups.reconcile(OLD, OLD + timedelta(days=1))
    rollups.rollup_period(OLD, OLD + timedelta(days=1), "day")

    assert report.buckets_skipped == 25
    assert report.buckets_checked == 0
    assert rollup("day", OLD).requests == 1


def test_prune_refuses_to_delete_todays_events():
    with pytest.raises(ValueError, match="at least 1"):
        rollups.prune_ledger(0)


def test_buckets_are_utc_hours_and_days():
    moment = datetime(2026, 3, 1, 1, 30, tzinfo=UTC).astimezone(timezone.get_fixed_timezone(-300))  # 20:30 the day before, UTC-5

    assert rollups.floor(moment, "day") == datetime(2026, 3, 1, tzinfo=UTC)
    assert rollups.bucket_range(moment, moment + timedelta(minutes=1), "hour") == (
        datetime(2026, 3, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, 2, tzinfo=UTC))
