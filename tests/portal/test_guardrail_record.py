"""Guardrail decisions and payloads travel on the usage event through the real intake (Redis stream, journal)
into the record: one GuardDecision per decision, a PayloadRecord as the tenant's mode kept it, an audit event per
blocked call, and each of them once however often the event is delivered."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import redis

from aiplatform.models import AuditEvent
from gateway.metering import UsageEvent as GatewayEvent
from gateway.metering import event_bytes
from portal import services, usage_intake
from portal.models import GuardDecision, PayloadRecord, UsageEvent
from portal.services.guardrails import prune_payload_records
from portal.usage_journal import Journal

pytestmark = pytest.mark.django_db(transaction=True)

MASKED = [
    {"policy": "pii-basic", "version": 3, "stage": "input", "detector": "email", "label": "EMAIL", "action": "mask",
     "count": 2},
    {"policy": "pii-basic", "version": 3, "stage": "output", "detector": "phone", "label": "PHONE", "action": "flag",
     "count": 1},
]
BLOCKED = [
    {"policy": "pii-basic", "version": 3, "stage": "input", "detector": "email", "label": "EMAIL", "action": "mask",
     "count": 1},
    {"policy": "pii-basic", "version": 3, "stage": "input", "detector": "payment_card", "label": "CARD",
     "action": "block", "count": 1},
]
SECRET_CARD = "4111 1111 1111 1111"


@pytest.fixture
def key(make_tenant):
    application = services.create_application(actor=None, tenant=make_tenant("guarded"), name="guarded-bot")
    return services.create_api_key(actor=None, application=application)[0]


def _event(key, request_id: str, *, guard=None, payload=None, status: int = 200, error_class: str = "") -> bytes:
    return event_bytes(GatewayEvent(
        request_id=request_id, occurred_at=datetime.now(UTC), tenant_id=key.tenant_id,
        application_id=key.application_id, key_id=key.pk, alias="fast-chat", endpoint_id=None, provider_kind="demo",
        operation="chat", streamed=False, prompt_tokens=3, completion_tokens=4, total_tokens=7,
        usage_source="provider", cost=Decimal("0.000010"), ttfb_ms=1.0, total_ms=2.0, status=status,
        error_class=error_class, guard=guard, payload=payload))


def _through_journal(tmp_path, *lines: bytes) -> None:
    journal = Journal(tmp_path)
    for line in lines:
        journal.append(line)
    journal.seal()
    usage_intake.drain_journal(tmp_path)


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the stream is the full stack's")
def test_decisions_and_a_payload_through_the_stream_are_recorded_once_each(key, settings):
    settings.USAGE_STREAM = f"sb:usage:test:{time.time_ns()}"
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    payload = {"mode": "redacted", "request": "write to <EMAIL_1>", "response": "done", "messages": 1, "chars": 18,
               "images": 0}
    line = _event(key, "guard-stream-1", guard=MASKED, payload=payload)
    client.xadd(settings.USAGE_STREAM, {"e": line})
    usage_intake.drain_stream()
    client.xadd(settings.USAGE_STREAM, {"e": line})  # delivered again
    usage_intake.drain_stream()
    client.delete(settings.USAGE_STREAM)

    rows = list(GuardDecision.objects.order_by("position").values_list("stage", "detector", "action", "count"))
    assert rows == [("input", "email", "mask", 2), ("output", "phone", "flag", 1)]
    assert UsageEvent.objects.get().guard == MASKED
    record = PayloadRecord.objects.get()
    assert record.request_text == "write to <EMAIL_1>"
    assert record.tenant_id == key.tenant_id


def test_a_blocked_call_through_the_journal_is_audited_once_without_its_text(key, tmp_path):
    line = _event(key, "guard-journal-1", guard=BLOCKED, status=403, error_class="policy_violation")
    _through_journal(tmp_path, line)
    _through_journal(tmp_path, line)  # the segment replayed

    assert GuardDecision.objects.count() == 2
    audit = AuditEvent.objects.get(action="guardrail.blocked")
    assert audit.request_id == "guard-journal-1"
    assert audit.tenant_id == key.tenant_id
    assert audit.actor_label == "gateway"
    assert {k: audit.changes[k] for k in ("alias", "policy", "version", "stage", "detector", "label")} == {
        "alias": "fast-chat", "policy": "pii-basic", "version": 3, "stage": "input", "detector": "payment_card",
        "label": "CARD"}
    assert SECRET_CARD not in str(audit.changes)


def test_decisions_that_did_not_block_are_not_audited(key, tmp_path):
    _through_journal(tmp_path, _event(key, "guard-masked", guard=MASKED))
    assert GuardDecision.objects.count() == 2
    assert not AuditEvent.objects.filter(action="guardrail.blocked").exists()


def test_an_event_without_decisions_or_payload_adds_nothing_to_the_record(key, tmp_path):
    _through_journal(tmp_path, _event(key, "plain"))
    assert UsageEvent.objects.get().guard is None
    assert not GuardDecision.objects.exists()
    assert not PayloadRecord.objects.exists()


@pytest.mark.parametrize(("mode", "request_text", "response_text"), [
    ("metadata", None, None),
    ("redacted", "mail <EMAIL_1>", "ok <EMAIL_1>"),
    ("full", "mail ann@example.com", "ok ann@example.com"),
])
def test_a_payload_is_kept_as_its_mode_says(key, tmp_path, mode, request_text, response_text):
    sent = {"metadata": ("mail ann@example.com", "ok"), "redacted": ("mail <EMAIL_1>", "ok <EMAIL_1>"),
            "full": ("mail ann@example.com", "ok ann@example.com")}[mode]
    payload = {"mode": mode, "request": sent[0], "response": sent[1], "messages": 2, "chars": 20, "images": 1}
    _through_journal(tmp_path, _event(key, f"payload-{mode}", payload=payload))

    record = PayloadRecord.objects.get()
    assert record.mode == mode
    assert record.request_text == request_text
    assert record.response_text == response_text
    assert (record.messages, record.chars, record.images) == (2, 20, 1)


def test_payload_records_older_than_the_retention_are_pruned(key, tmp_path, settings):
    settings.PAYLOAD_RETENTION_DAYS = 30
    payload = {"mode": "metadata", "request": None, "response": None, "messages": 1, "chars": 5, "images": 0}
    _through_journal(tmp_path, _event(key, "old", payload=payload), _event(key, "new", payload=payload))
    PayloadRecord.objects.filter(request_id="old").update(occurred_at=datetime.now(UTC) - timedelta(days=31))

    assert prune_payload_records() == 1
    assert list(PayloadRecord.objects.values_list("request_id", flat=True)) == ["new"]
