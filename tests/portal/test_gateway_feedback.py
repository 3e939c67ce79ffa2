"""What the gateway reports in batches: last-used times, and refusals into the audit trail (prefix only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aiplatform.models import AuditEvent
from portal import services


def test_last_used_moves_forward_only(api_key, django_assert_max_num_queries):
    later = datetime(2030, 1, 2, tzinfo=UTC)
    with django_assert_max_num_queries(4):  # savepoint, lock+read, bulk update, release
        services.record_key_usage(last_used={api_key.pk: later})
    services.record_key_usage(last_used={api_key.pk: later - timedelta(hours=1), 999_999: later})

    api_key.refresh_from_db()
    assert api_key.last_used_at == later


@pytest.mark.smoke
def test_each_refusal_is_audited_with_the_prefix_only(api_key, tenant_a):
    services.record_gateway_refusals(refusals=[
        {"reason": "key_revoked", "request_id": "req-0001", "ip": "10.0.0.9", "key_prefix": api_key.secret,
         "key_id": api_key.pk, "tenant_id": tenant_a.pk, "alias": "", "occurred_at": datetime.now(UTC)},
        {"reason": "key_unknown", "request_id": "req-0002", "ip": "10.0.0.9", "key_prefix": "sb-AAAAAAAAA",
         "key_id": None, "tenant_id": None},
        {"reason": "key_malformed", "request_id": "req-0003", "ip": None, "key_prefix": "not-a-key-at-all"},
        {"reason": "alias_not_subscribed", "request_id": "req-0004", "ip": "10.0.0.9", "key_id": api_key.pk,
         "tenant_id": tenant_a.pk, "alias": "other-team-chat"},
    ])

    events = list(AuditEvent.objects.filter(action="gateway.refusal").order_by("seq"))
    assert [e.changes["reason"] for e in events] == ["key_revoked", "key_unknown", "key_malformed",
                                                     "alias_not_subscribed"]
    revoked, unknown, malformed, not_subscribed = events
    assert revoked.tenant_id == tenant_a.pk and revoked.target_id == str(api_key.pk)
    assert revoked.changes["key_prefix"] == api_key.key_prefix and revoked.request_id == "req-0001"
    assert revoked.ip == "10.0.0.9" and revoked.actor_label == "gateway"
    assert unknown.tenant_id is None and unknown.changes["key_prefix"] == "sb-AAAAAAAAA"
    assert malformed.changes["key_prefix"] == ""
    assert not_subscribed.changes["alias"] == "other-team-chat"
    assert all(api_key.secret not in repr(e.__dict__) for e in events)


def test_a_gateway_batch_delivered_twice_is_written_once(api_key, tenant_a):
    from decimal import Decimal

    import orjson

    from gateway.metering import Refusal, UsageEvent, batch_payload, event_bytes
    from portal.models import UsageEvent as LedgerRow
    from portal.tasks import record_gateway_report
    from portal.usage_intake import write_events

    when = datetime(2030, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    call = UsageEvent(
        request_id="req-batch-1", occurred_at=when, tenant_id=tenant_a.pk, application_id=api_key.application_id,
        key_id=api_key.pk, alias="demo-chat", endpoint_id=None, provider_kind="demo", operation="chat",
        streamed=False, prompt_tokens=12, completion_tokens=8, total_tokens=20, usage_source="provider",
        cost=Decimal("0.000028125"), ttfb_ms=1.5, total_ms=2.25, status=200,
    )
    refusal = Refusal(reason="key_revoked", request_id="req-batch-2", ip="10.0.0.9", key_id=api_key.pk,
                      tenant_id=tenant_a.pk, occurred_at=when)
    payload = batch_payload([refusal])

    # Re-delivered: the worker died before acknowledging (a stream entry, a journal segment, a task).
    for _ in range(2):
        write_events([orjson.loads(event_bytes(call))])
        record_gateway_report(payload)

    row = LedgerRow.objects.get()
    assert (row.request_id, row.occurred_at, row.cost, row.total_tokens) == ("req-batch-1", when,
                                                                           Decimal("0.000028125"), 20)
    assert AuditEvent.objects.filter(action="gateway.refusal", request_id="req-batch-2").count() == 1
    api_key.refresh_from_db()
    assert api_key.last_used_at == when
