"""The ledger's intake dies at the worst moment (after the commit, before the acknowledgement) and loses nothing.

Real Redis streams and a real database; the crash is injected exactly where a SIGKILL would hurt most,
and a second consumer (another worker) must then write every event exactly once.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from decimal import Decimal

import orjson
import pytest
import redis

from gateway.metering import UsageEvent as GatewayEvent
from gateway.metering import event_bytes
from portal import services, usage_intake
from portal.models import UsageEvent
from portal.usage_journal import Journal

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs in that worker."""


def _events(key, n: int, prefix: str) -> list[bytes]:
    return [event_bytes(GatewayEvent(
        request_id=f"{prefix}-{i}", occurred_at=datetime.now(UTC), tenant_id=key.tenant_id,
        application_id=key.application_id, key_id=key.pk, alias="fast-chat", endpoint_id=None, provider_kind="demo",
        operation="chat", streamed=False, prompt_tokens=3, completion_tokens=4, total_tokens=7,
        usage_source="provider", cost=Decimal("0.000010"), ttfb_ms=1.0, total_ms=2.0, status=200)) for i in range(n)]


@pytest.fixture
def key(make_tenant):
    application = services.create_application(actor=None, tenant=make_tenant("intake"), name="intake-bot")
    return services.create_api_key(actor=None, application=application)[0]


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="the stream is the full stack's")
@pytest.mark.parametrize("dies", ["before the commit", "after the commit, before the ack"])
def test_a_worker_killed_mid_batch_is_taken_over_and_nothing_is_lost_or_written_twice(key, settings, monkeypatch,
                                                                                      dies):
    settings.USAGE_STREAM = f"sb:usage:test:{time.time_ns()}"
    settings.USAGE_STREAM_CLAIM_IDLE_SECONDS = 0.2
    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    for event in _events(key, 7, "stream"):
        client.xadd(settings.USAGE_STREAM, {"e": event})

    real_write = usage_intake.write_events

    def write_then_die(events):
        if events and dies == "before the commit":
            raise Killed
        real_write(events)
        if events:
            raise Killed

    monkeypatch.setattr(usage_intake, "_consumer_name", lambda: "worker-a")
    monkeypatch.setattr(usage_intake, "write_events", write_then_die)
    with pytest.raises(Killed):
        usage_intake.drain_stream()
    assert UsageEvent.objects.count() == (0 if dies == "before the commit" else 7)
    assert client.xpending(settings.USAGE_STREAM, usage_intake.GROUP)["pending"] == 7  # never acknowledged

    time.sleep(0.3)  # the entries go idle; another worker claims them
    monkeypatch.setattr(usage_intake, "_consumer_name", lambda: "worker-b")
    monkeypatch.setattr(usage_intake, "write_events", real_write)
    usage_intake.drain_stream()

    assert UsageEvent.objects.count() == 7
    assert client.xpending(settings.USAGE_STREAM, usage_intake.GROUP)["pending"] == 0
    assert client.xlen(settings.USAGE_STREAM) == 0
    client.delete(settings.USAGE_STREAM)


@pytest.mark.smoke
def test_a_journal_segment_written_but_not_deleted_is_written_once(key, tmp_path, monkeypatch):
    journal = Journal(tmp_path)
    for event in _events(key, 5, "journal"):
        journal.append(event)
    segment = journal.seal()
    assert orjson.loads(segment.read_bytes().splitlines()[0])["request_id"] == "journal-0"

    real_write = usage_intake.write_events

    def write_then_die(events):
        real_write(events)
        raise Killed  # before the segment is deleted

    monkeypatch.setattr(usage_intake, "write_events", write_then_die)
    with pytest.raises(Killed):
        usage_intake.drain_journal(tmp_path)
    monkeypatch.setattr(usage_intake, "write_events", real_write)
    usage_intake.drain_journal(tmp_path)

    assert UsageEvent.objects.count() == 5 and not segment.exists()


@pytest.mark.smoke
def test_a_torn_last_line_of_a_dead_writer_is_skipped_and_the_rest_written(key, tmp_path):
    lines = _events(key, 3, "torn")
    orphan = tmp_path / "999999999-1-1.open"  # a pid no process has: its writer is dead
    orphan.write_bytes(b"\n".join(lines) + b"\n" + lines[0][:20])  # killed inside its last write
    usage_intake.drain_journal(tmp_path)
    assert sorted(UsageEvent.objects.values_list("request_id", flat=True)) == ["torn-0", "torn-1", "torn-2"]
    assert not orphan.exists()
