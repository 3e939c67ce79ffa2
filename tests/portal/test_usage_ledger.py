"""The usage ledger takes the gateway's batches: once per request id, and an orphaned event never blocks a batch."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from portal.models import UsageEvent
from portal.services import record_usage_events


def event(api_key, request_id: str, **overrides) -> dict:
    return {"request_id": request_id, "occurred_at": datetime.now(UTC), "tenant_id": api_key.tenant_id,
            "application_id": api_key.application_id, "key_id": api_key.pk, "alias": "fast-chat",
            "endpoint_id": None, "provider_kind": "openai-compatible", "operation": "chat", "streamed": False,
            "prompt_tokens": 12, "completion_tokens": 8, "total_tokens": 20, "usage_source": "provider",
            "cost": Decimal("0.000028"), "ttfb_ms": 3.2, "total_ms": 4.1, "status": 200, "error_class": "",
            **overrides}


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_batch_written_twice_records_each_call_once(api_key):
    batch = [event(api_key, "req-1"), event(api_key, "req-2")]
    record_usage_events(events=batch)
    record_usage_events(events=batch)  # a retried flush
    assert sorted(UsageEvent.objects.values_list("request_id", flat=True)) == ["req-1", "req-2"]


@pytest.mark.django_db
def test_an_event_of_a_vanished_key_is_dropped_not_blocking_the_batch(api_key):
    record_usage_events(events=[event(api_key, "req-ok"), event(api_key, "req-orphan", key_id=999_999)])
    assert list(UsageEvent.objects.values_list("request_id", flat=True)) == ["req-ok"]
