"""`manage.py rollup_usage` reconciles rollups with the ledger by hand: what it checked, what it repaired, bad input."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from portal import rollups
from portal.models import UsageEvent, UsageRollup

pytestmark = pytest.mark.django_db

YESTERDAY = rollups.floor(timezone.now(), rollups.DAY) - timedelta(days=1)
TEN = YESTERDAY + timedelta(hours=10)
SINCE, UNTIL = YESTERDAY.date().isoformat(), (YESTERDAY + timedelta(days=1)).date().isoformat()


@pytest.fixture
def ledger(api_key):
    for n in range(3):
        UsageEvent.objects.create(
            request_id=f"cmd-{n}", occurred_at=TEN + timedelta(minutes=n), tenant_id=api_key.tenant_id,
            application_id=api_key.application_id, key=api_key, alias="fast-chat", operation="chat",
            prompt_tokens=10, completion_tokens=5, total_tokens=15, cost=Decimal("0.001"), total_ms=80, status=200)


def rollup_usage(*args: str) -> str:
    out = StringIO()
    call_command("rollup_usage", *args, stdout=out)
    return out.getvalue()


def test_it_builds_missing_rollups_and_says_so(ledger):
    output = rollup_usage("--since", SINCE, "--until", UNTIL)

    assert f"hourly: 24 buckets checked from {YESTERDAY:%Y-%m-%d} 00:00" in output
    assert "1 differed, 1 repaired" in output
    assert "daily: 1 bucket checked" in output
    assert UsageRollup.objects.get(granularity="hour", bucket_start=TEN).requests == 3


def test_a_second_run_finds_everything_equal(ledger):
    rollup_usage("--since", SINCE, "--until", UNTIL)

    output = rollup_usage("--since", SINCE, "--until", UNTIL, "--check")

    assert "hourly: 24 buckets checked" in output
    assert output.count("all equal the ledger") == 2


def test_check_prints_the_difference_repairs_nothing_and_fails(ledger):
    rollup_usage("--since", SINCE, "--until", UNTIL)
    UsageRollup.objects.filter(granularity="hour").update(errors=2)
    out = StringIO()

    with pytest.raises(CommandError, match="1 bucket"):
        call_command("rollup_usage", "--since", SINCE, "--until", UNTIL, "--check", "--granularity", "hour", stdout=out)

    assert f"hour {TEN:%Y-%m-%d} 10:00 key" in out.getvalue()
    assert "errors is 2 in the rollup, 0 in the ledger" in out.getvalue()
    assert UsageRollup.objects.get(granularity="hour").errors == 2


def test_only_the_granularity_asked_for_is_checked(ledger):
    output = rollup_usage("--since", f"{SINCE}T10:00", "--until", f"{SINCE}T12:00+00:00", "--granularity", "hour")

    assert "hourly: 2 buckets checked" in output
    assert "daily" not in output
    assert not UsageRollup.objects.filter(granularity="day").exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--since", "yesterday"], "not an ISO date"),
    (["--until", "2026-02-30"], "--until '2026-02-30'"),
    (["--since", "2026-03-02", "--until", "2026-03-01"], "must be before"),
    (["--granularity", "week"], "invalid choice"),
])
def test_bad_input_is_a_clear_error(args, message):
    with pytest.raises(CommandError, match=message):
        rollup_usage(*args)
