"""Limits and budgets at the real gateway, against real Redis and PostgreSQL, as the issue states them."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from io import StringIO

import httpx
import pytest
from django.core.management import call_command

from portal.models import UsageEvent
from tests.aiplatform.redis_outages import down_redis_url
from tests.integration.gateway_setup import wait_for
from tests.servers import start_server

pytestmark = pytest.mark.integration

LIMITED_REGISTRY = """
providers:
  - name: limits-upstream
    kind: openai-compatible
    base_url: {upstream}
    api_key: env:SB_TEST_UPSTREAM_KEY
models:
  - alias: metered-chat
    kind: chat
    status: approved
    routes:
      - {{provider: limits-upstream, upstream_model: fake-model, weight: 100}}
    pricing: {{input_per_mtok: 0, output_per_mtok: 0, per_request: 0.014}}
  - alias: pricey-chat
    kind: chat
    status: approved
    routes:
      - {{provider: limits-upstream, upstream_model: fake-pricey, weight: 100}}
    pricing: {{input_per_mtok: 1000, output_per_mtok: 2000}}
"""

HELLO = {"model": "metered-chat", "messages": [{"role": "user", "content": "Hi"}]}


@pytest.fixture
def limited(server_url, fake_upstream, tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text(LIMITED_REGISTRY.format(upstream=fake_upstream))
    call_command("seed_demo", stdout=StringIO())
    call_command("registry", "apply", str(path), stdout=StringIO())
    return server_url


def _key(*options: str, models: str = "metered-chat", app: str = "limited-bot") -> str:
    """A key with ``options`` as its own limits; its application follows a plan with none, so the key's
    limits are the ones under test (the default plan's concurrency cap would refuse some of a burst)."""
    from portal import services
    from portal.models import ApiKey, Plan

    out = StringIO()
    call_command("create_api_key", "--tenant", "acme", "--app", app, "--models", models, "--json", *options,
                 stdout=out)
    created = json.loads(out.getvalue())
    open_plan = Plan.objects.filter(name="no-limits").first() or services.create_plan(actor=None, name="no-limits")
    application = ApiKey.objects.get(pk=created["key_id"]).application
    services.set_limits(actor=None, owner=application, values={"plan": open_plan})
    return created["key"]


def _wait_loaded(base: str, key: str) -> None:
    wait_for(lambda: httpx.get(base + "/v1/models", headers={"authorization": f"Bearer {key}"}).status_code == 200,
             what="the gateway to load the key")


async def _burst(urls: list[str], key: str, n: int, body: dict) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        calls = [client.post(urls[i % len(urls)] + "/v1/chat/completions", json=body,
                             headers={"authorization": f"Bearer {key}"}) for i in range(n)]
        return await asyncio.gather(*calls)


def _needs_redis() -> None:
    import os

    if not os.environ.get("REDIS_URL"):
        pytest.skip("two gateway processes share limits only through Redis (the embedded mode runs one)")


def test_fifty_requests_per_minute_over_two_gateway_processes_admit_exactly_fifty(limited):
    _needs_redis()
    key = _key("--rpm", "50")
    with start_server(worker=False) as second:
        for base in (limited, second.base_url):
            _wait_loaded(base, key)
        responses = asyncio.run(_burst([limited, second.base_url], key, 200, HELLO))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 50 and codes.count(429) == 150
    for refused in (r for r in responses if r.status_code == 429):
        assert int(refused.headers["retry-after"]) >= 1 and int(refused.headers["retry-after-ms"]) > 0
        assert refused.json()["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
    wait_for(lambda: UsageEvent.objects.filter(alias="metered-chat").count() == 200, what="the ledger")
    assert UsageEvent.objects.filter(alias="metered-chat", status=429).count() == 150


@pytest.mark.smoke  # the embedded mode's in-process limiter too
def test_a_soft_daily_budget_lets_the_crossing_call_complete_then_refuses(limited):
    key = _key("--budget-usd", "0.05", "--budget-period", "day")
    _wait_loaded(limited, key)
    answers = [httpx.post(limited + "/v1/chat/completions", json=HELLO, headers={"authorization": f"Bearer {key}"})
               for _ in range(6)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 429, 429]
    refused = answers[4]
    assert refused.json()["error"]["type"] == "insufficient_quota"
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert refused.headers["x-should-retry"] == "false" and int(refused.headers["retry-after"]) > 0
    wait_for(lambda: UsageEvent.objects.filter(status=200).count() == 4, what="the ledger")
    assert sum(e.cost for e in UsageEvent.objects.filter(status=200)) == Decimal("0.056")


def test_a_strict_budget_is_never_exceeded_under_two_hundred_concurrent_calls(limited):
    key = _key("--budget-usd", "1.00", "--budget-period", "day", "--budget-mode", "strict", models="pricey-chat")
    _wait_loaded(limited, key)
    body = {"model": "pricey-chat", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]}
    responses = asyncio.run(_burst([limited], key, 200, body))
    codes = [r.status_code for r in responses]
    assert codes.count(200) > 0 and codes.count(429) > 0 and set(codes) <= {200, 429}
    assert all(r.json()["error"]["code"] == "budget_exceeded" for r in responses if r.status_code == 429)
    wait_for(lambda: UsageEvent.objects.filter(alias="pricey-chat").count() == 200, what="the ledger")
    spent = sum(e.cost for e in UsageEvent.objects.filter(alias="pricey-chat"))
    assert Decimal("0") < spent <= Decimal("1.00")


@pytest.mark.smoke  # the embedded mode's in-process limiter too
def test_remaining_counts_never_go_below_zero_nor_rise_within_a_window(limited):
    key = _key("--rpm", "5", "--tpm", "100000")
    _wait_loaded(limited, key)
    seen_requests, seen_tokens = [], []
    for _ in range(8):
        answer = httpx.post(limited + "/v1/chat/completions", json=HELLO, headers={"authorization": f"Bearer {key}"})
        seen_requests.append(int(answer.headers["x-ratelimit-remaining-requests"]))
        seen_tokens.append(int(answer.headers["x-ratelimit-remaining-tokens"]))
        assert answer.headers["x-ratelimit-limit-requests"] == "5"
        assert answer.headers["x-ratelimit-reset-requests"].endswith("s")
    assert seen_requests == [4, 3, 2, 1, 0, 0, 0, 0]
    assert all(t >= 0 for t in seen_tokens) and seen_tokens == sorted(seen_tokens, reverse=True)


@pytest.mark.smoke  # the embedded mode's in-process limiter too
def test_messages_answers_carry_anthropic_rate_limit_headers(limited):
    key = _key("--rpm", "7")
    _wait_loaded(limited, key)
    answer = httpx.post(limited + "/v1/messages", json={**HELLO, "max_tokens": 16},
                        headers={"x-api-key": key, "anthropic-version": "2023-06-01"})
    assert answer.status_code == 200
    assert answer.headers["anthropic-ratelimit-requests-limit"] == "7"
    assert answer.headers["anthropic-ratelimit-requests-remaining"] == "6"
    assert answer.headers["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "x-ratelimit-limit-requests" not in answer.headers


@pytest.mark.smoke  # the embedded mode's in-process limiter too
def test_usage_endpoint_shows_the_keys_limits_what_is_left_and_what_it_used(limited):
    key = _key("--rpm", "9", "--budget-usd", "1", "--budget-period", "day")
    _wait_loaded(limited, key)
    for _ in range(2):
        assert httpx.post(limited + "/v1/chat/completions", json=HELLO,
                          headers={"authorization": f"Bearer {key}"}).status_code == 200
    wait_for(lambda: UsageEvent.objects.filter(alias="metered-chat").count() == 2, what="the ledger")
    report = httpx.get(limited + "/v1/usage", headers={"authorization": f"Bearer {key}"}).json()
    model = next(m for m in report["models"] if m["model"] == "metered-chat")
    key_level = next(level for level in model["limits"] if level["level"] == "key")
    assert key_level["limits"]["requests_per_minute"] == 9
    assert key_level["remaining"]["requests_this_minute"] == 7
    assert key_level["used"]["cost_today"] == "0.028000"
    assert key_level["remaining"]["cost_today"] == "0.972000"
    assert model["usage"]["today"]["requests"] == 2 and model["usage"]["today"]["cost"] == "0.028000"


@pytest.mark.smoke  # the embedded mode's in-process limiter too
def test_shadow_limits_are_reported_and_never_enforced(limited):
    from portal import services
    from portal.models import ApiKey

    key = _key("--rpm", "2")
    services.set_limits(actor=None, owner=ApiKey.objects.order_by("-pk").first(), values={"shadow": True})

    def shadow_loaded() -> bool:
        report = httpx.get(limited + "/v1/usage", headers={"authorization": f"Bearer {key}"})
        return report.status_code == 200 and any(
            level["shadow"] for m in report.json()["models"] for level in m["limits"] if level["level"] == "key")

    wait_for(shadow_loaded, what="the gateway to load the shadow limit")
    answers = [httpx.post(limited + "/v1/chat/completions", json=HELLO, headers={"authorization": f"Bearer {key}"})
               for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert "requests_per_minute" in answers[3].headers["x-ratelimit-shadow"]
    assert "x-ratelimit-shadow" not in answers[0].headers
    wait_for(lambda: UsageEvent.objects.filter(alias="metered-chat").count() == 4, what="the ledger")
    assert UsageEvent.objects.filter(shadow_limits__contains="requests_per_minute").count() == 2


@pytest.mark.parametrize("failure, expected", [("fail_open", 200), ("fail_closed", 503)])
def test_redis_unreachable_fails_the_way_the_plan_says(limited, failure, expected):
    from portal import services
    from portal.models import Plan

    services.create_plan(actor=None, name=f"outage-{failure.replace('_', '-')}", requests_per_minute=100,
                         redis_failure=failure)
    key = _key("--plan", f"outage-{failure.replace('_', '-')}")
    # Its own file-system broker, so its worker (which shares its journal directory) gets its nudges.
    env = {"REDIS_URL": down_redis_url(), "CELERY_BROKER_URL": "filesystem://", "GATEWAY_PROCESSES": "2"}
    with start_server(worker=True, env=env) as cut_off:
        _wait_loaded(cut_off.base_url, key)
        answer = httpx.post(cut_off.base_url + "/v1/chat/completions", json=HELLO,
                            headers={"authorization": f"Bearer {key}"})
        assert answer.status_code == expected, answer.text
        if expected == 503:
            assert answer.json()["error"]["code"] == "limiter_unavailable"
            assert answer.headers["retry-after"] == "1"
        else:
            # Each of the two processes enforces half of the plan's 100 requests per minute.
            assert answer.headers["x-ratelimit-limit-requests"] == "50"
            wait_for(lambda: UsageEvent.objects.filter(request_id=answer.headers["x-request-id"]).exists(),
                     what="the call recorded through the journal while Redis is down", seconds=20)
    assert Plan.objects.filter(redis_failure=failure).exists()
