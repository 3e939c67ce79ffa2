"""A budget threshold crossed is told to the team's admins once per period: e-mail and in-app, never twice."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection, connections, transaction
from structlog.testing import capture_logs

from aiplatform.roles import TenantRole
from portal import services
from portal.alerts import check_budget_alerts
from portal.models import BudgetAlert, Notification

_request_ids = itertools.count(1)


@pytest.fixture
def admins(tenant_a, make_member):
    """The people an alert is for: the team's admin and owner (the developer is not told)."""
    return [make_member(tenant_a, TenantRole.ADMIN, email="admin@example.com"),
            make_member(tenant_a, TenantRole.OWNER, email="boss@example.com")]


def call(api_key, *, cost: str = "0.014", tokens: int = 20) -> dict:
    """One answered call, as the ledger writer holds it."""
    return {"request_id": f"req-{next(_request_ids)}", "occurred_at": datetime.now(UTC), "tenant_id": api_key.tenant_id,
            "application_id": api_key.application_id, "key_id": api_key.pk, "alias": "fast-chat", "endpoint_id": None,
            "provider_kind": "openai-compatible", "operation": "chat", "streamed": False, "prompt_tokens": tokens // 2,
            "completion_tokens": tokens - tokens // 2, "total_tokens": tokens, "usage_source": "provider",
            "cost": Decimal(cost), "ttfb_ms": 3.0, "total_ms": 4.0, "status": 200, "error_class": ""}


def write_batch(events: list[dict]) -> list[BudgetAlert]:
    """What the ledger writer does: commit the batch, then check the budgets it touched."""
    services.record_usage_events(events=events)
    return check_budget_alerts(events)


def thresholds(alerts) -> list[int]:
    return sorted(alert.threshold_percent for alert in alerts)


@pytest.mark.django_db
def test_each_threshold_of_a_daily_budget_is_told_once(api_key, admins, developer, django_capture_on_commit_callbacks):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.05")})
    crossed = []
    for _ in range(5):  # $0.014 a call: 28 %, 56 %, 84 %, 112 %, 140 % of $0.05
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            crossed.append(thresholds(write_batch([call(api_key)])))
        assert len(mail.outbox) == (2 if crossed[-1] else 0)

    assert crossed == [[], [50], [80], [100], []]
    assert thresholds(BudgetAlert.objects.all()) == [50, 80, 100]
    assert Notification.objects.filter(user=admins[0], title__contains="budget").count() == 3
    assert Notification.objects.filter(user=admins[1], title__contains="budget").count() == 3
    assert not Notification.objects.filter(user=developer, title__contains="budget").exists()


@pytest.mark.django_db
def test_the_80_percent_alert_is_sent_exactly_once(api_key, admins, django_capture_on_commit_callbacks):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.05")})
    batches = [[call(api_key), call(api_key)], [call(api_key)], [call(api_key), call(api_key)]]
    with django_capture_on_commit_callbacks(execute=True):
        for batch in batches:
            write_batch(batch)
        again = check_budget_alerts([event for batch in batches for event in batch])  # a re-delivered batch

    sent = [message for message in mail.outbox if "80 %" in message.subject]
    assert again == []
    assert sorted(message.to[0] for message in sent) == ["admin@example.com", "boss@example.com"]
    assert BudgetAlert.objects.filter(threshold_percent=80).count() == 1


@pytest.mark.django_db
def test_the_message_says_what_was_used_of_which_budget(api_key, admins, django_capture_on_commit_callbacks):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.05")})
    with django_capture_on_commit_callbacks(execute=True):
        write_batch([call(api_key), call(api_key), call(api_key)])

    message = mail.outbox[0]
    assert message.subject == (f"[Switchboard] Alpha: key {api_key.key_prefix}… of checkout-bot has used 80 % "
                               "of its daily cost budget")
    assert "has used $0.042 of its daily budget of $0.05 (84 %)" in message.body
    assert f"/portal/applications/{api_key.application_id}/" in message.body


@pytest.mark.django_db
def test_thresholds_crossed_together_make_one_message(api_key, admins, django_capture_on_commit_callbacks):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0")})
    with django_capture_on_commit_callbacks(execute=True):
        alerts = write_batch([call(api_key, cost="0.000001")])  # any spend crosses a zero budget

    assert thresholds(alerts) == [50, 80, 100]
    assert [message.to[0] for message in mail.outbox] == ["admin@example.com", "boss@example.com"]
    assert "100 %" in mail.outbox[0].subject


@pytest.mark.django_db
def test_a_subscription_budget_is_alerted_on_the_subscription(api_key, approved, admins):
    services.set_limits(actor=None, owner=approved, values={"tokens_per_month": 100})

    alerts = write_batch([call(api_key, tokens=60)])

    assert [(a.level, a.owner_id, a.measure, a.period, a.threshold_percent) for a in alerts] == [
        ("subscription", approved.pk, "tokens", "month", 50)]
    assert alerts[0].period_start == datetime.now(UTC).date().replace(day=1)
    assert alerts[0].used == Decimal(60)


@pytest.mark.django_db
def test_spend_of_a_past_day_counts_in_that_day(api_key, admins):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.05")})
    yesterday = datetime.now(UTC).replace(hour=12) - timedelta(days=1)
    write_batch([call(api_key, cost="0.03") | {"occurred_at": yesterday}])

    alerts = write_batch([call(api_key, cost="0.03")])  # today: 60 % of today's budget, not 120 %

    assert [(a.period_start, a.threshold_percent) for a in alerts] == [(datetime.now(UTC).date(), 50)]
    assert BudgetAlert.objects.filter(period_start=yesterday.date()).count() == 1


@pytest.mark.django_db
def test_a_budget_in_shadow_mode_is_not_alerted(api_key, admins):
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.01"), "shadow": True})

    assert write_batch([call(api_key)]) == []


def _a_query_waits_for_a_lock(writer: threading.Thread) -> bool:
    """True once some other session waits for a lock; False if ``writer`` ended (or hung) without waiting."""
    deadline = time.monotonic() + 30  # a bound for a hung test, not a performance claim
    with connection.cursor() as cursor:
        while writer.is_alive() and time.monotonic() < deadline:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.02)
    return False


@pytest.mark.django_db(transaction=True)
def test_two_writers_at_once_record_and_tell_each_threshold_once(api_key, admins):
    if connection.vendor != "postgresql":
        pytest.skip("two concurrent transactions need PostgreSQL")
    services.set_limits(actor=None, owner=api_key, values={"cost_per_day": Decimal("0.05")})
    events = [call(api_key) for _ in range(4)]
    services.record_usage_events(events=events)
    mail.outbox.clear()
    found: dict[str, list[BudgetAlert]] = {}

    def second_writer() -> None:
        try:
            found["second"] = check_budget_alerts(events)
        finally:
            connections.close_all()  # this thread's connection

    with capture_logs() as logs:
        with transaction.atomic():  # the first writer's alerts are not committed while the second one runs
            found["first"] = check_budget_alerts(events)
            writer = threading.Thread(target=second_writer)
            writer.start()
            waited = _a_query_waits_for_a_lock(writer)  # the second one's INSERT waits on the unique index
        writer.join(timeout=30)

    assert waited
    assert [e for e in logs if e["event"] == "budget_alert_failed"] == []  # the duplicate was found, not an error
    assert thresholds(found["first"]) == [50, 80, 100]
    assert found["second"] == []
    assert BudgetAlert.objects.count() == 3
    assert len(mail.outbox) == 2  # one message to each of the two admins

