"""Every call through the gateway leaves one usage event: tokens, cost from registry prices, latency, outcome."""

from __future__ import annotations

from decimal import Decimal

import pytest

from portal.models import ApiKey, UsageEvent
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration


def test_a_call_and_a_failure_are_each_recorded_once(gateway):
    ok = gateway.post("/chat/completions", json={"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]})
    failed = gateway.post("/chat/completions", json={"model": "broken-chat", "messages": [{"role": "user", "content": "Hi"}]})
    assert (ok.status_code, failed.status_code) == (200, 502)

    wait_for(lambda: UsageEvent.objects.count() == 2, what="the metering flush")
    good = UsageEvent.objects.get(request_id=ok.headers["x-request-id"])
    assert (good.alias, good.status, good.prompt_tokens, good.completion_tokens) == ("fast-chat", 200, 12, 8)
    assert good.usage_source == "provider" and good.operation == "chat" and not good.streamed
    assert good.cost == Decimal("0.000028")  # 12 × $1/M in + 8 × $2/M out
    assert good.ttfb_ms is not None and good.total_ms >= good.ttfb_ms
    bad = UsageEvent.objects.get(request_id=failed.headers["x-request-id"])
    assert bad.status == 502 and bad.error_class and bad.cost == 0
    assert ApiKey.objects.get(pk=gateway.key_id).last_used_at is not None


def test_a_stream_is_recorded_with_its_counted_usage(gateway):
    response = gateway.post("/chat/completions", json={"model": "demo-chat", "stream": True,
                                                       "messages": [{"role": "user", "content": "ping"}]})
    assert response.status_code == 200 and response.text.endswith("data: [DONE]\n\n")
    wait_for(lambda: UsageEvent.objects.filter(streamed=True).exists(), what="the metering flush")
    event = UsageEvent.objects.get(streamed=True)
    assert event.alias == "demo-chat" and event.completion_tokens > 0 and event.status == 200
