"""Routing and resilience against real fake upstreams: strategies, retries, fallback, breakers, caps.

The upstreams are one steerable process (tests/integration/routing_upstream.py); the gateway is the
real server with short breaker and backoff settings, configured through ``registry apply`` as an
operator would. What a caller sees is checked at the wire: status, answer, the headers naming the
endpoint and the number of tries, and the ledger.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter

import httpx
import openai
import pytest
from django.db import connection

from portal.models import UsageEvent
from registry.models import Endpoint
from tests.integration.gateway_setup import create_key, wait_for
from tests.integration.routing_setup import HELLO, Setup
from tests.servers import start_server

pytestmark = pytest.mark.integration

SERVER_SETTINGS = {
    "GATEWAY_BREAKER_MIN_CALLS": "4",
    "GATEWAY_BREAKER_FAILURE_RATE": "0.5",
    "GATEWAY_BREAKER_WINDOW_SECONDS": "30",
    "GATEWAY_BREAKER_OPEN_SECONDS": "5",  # long enough for a loaded 2-core box to make its 20 calls while open
    "GATEWAY_BREAKER_SYNC_SECONDS": "0.2",
    "GATEWAY_RETRY_BACKOFF_SECONDS": "0.01",
    "GATEWAY_INFLIGHT_WAIT_SECONDS": "0.2",
    # Full stack: two gateway processes, so breakers and caps must agree across them (through Redis). The
    # embedded mode runs one process (its in-process breaker and caps are the whole truth there).
    "WEB_CONCURRENCY": "2" if os.environ.get("REDIS_URL") else "1",
}


@pytest.fixture(scope="module")
def routing_server(django_db_setup):
    with start_server(env=SERVER_SETTINGS) as server:
        yield server


@pytest.fixture
def setup(transactional_db, routing_server, upstreams, tmp_path, request):
    return Setup(routing_server, upstreams, tmp_path, request.node.name.removeprefix("test_")[:40].replace("_", "-"))


def _events(request_ids: list[str]) -> list[UsageEvent]:
    connection.close()  # see the worker's commits
    return list(UsageEvent.objects.filter(request_id__in=request_ids).select_related("endpoint"))


def _wait_for_events(request_ids: list[str], server=None) -> list[UsageEvent]:
    try:
        wait_for(lambda: len(_events(request_ids)) == len(request_ids), seconds=20, what="the calls in the ledger")
    except AssertionError:
        raise AssertionError("the calls did not reach the ledger:\n" + (server.log()[-3000:] if server else "")) from None
    return _events(request_ids)


PRIMARY_BACKUP = """
  - alias: resilient-chat
    kind: chat
    status: approved
    strategy: priority
    routes:
      - {provider: primary, upstream_model: m-large, priority: 1}
      - {provider: backup, upstream_model: m-large, priority: 2}
    pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"""


@pytest.mark.smoke  # the embedded mode too: in-process breaker and caps
def test_an_alias_whose_first_route_is_down_is_served_entirely_by_its_fallback(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", dead=("primary",), alias_names=("resilient-chat",))

    answers = [setup.chat("resilient-chat") for _ in range(20)]

    assert [a.status_code for a in answers] == [200] * 20
    assert {a.headers["x-switchboard-endpoint"] for a in answers} == {"backup/m-large"}
    assert all(a.json()["choices"][0]["message"]["content"] == f"from {setup.up('backup')}" for a in answers)
    # The first calls tried the dead primary first (connection refused, retried once); once its circuit opened
    # in both processes, it was skipped and the backup answered at the first try.
    tries = [int(a.headers["x-switchboard-attempts"]) for a in answers]
    assert tries[0] >= 2 and tries[-1] == 1


def test_fallback_on_500_is_invisible_and_metered_exactly(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=500)

    answer = setup.chat("resilient-chat")

    assert answer.status_code == 200
    assert answer.headers["x-switchboard-endpoint"] == "backup/m-large"
    assert answer.headers["x-switchboard-attempts"] == "3"  # primary twice (a jittered retry), then the backup
    assert setup.upstreams.calls(setup.up("primary")) == 2
    [event] = _wait_for_events([answer.headers["x-request-id"]], setup.server)
    backup = Endpoint.objects.get(provider__name="backup")
    assert event.endpoint_id == backup.pk and event.status == 200 and event.attempt_count == 3
    assert (event.prompt_tokens, event.completion_tokens) == (10, 3)  # the backup's usage only
    assert float(event.cost) == pytest.approx(10 * 1.0 / 1e6 + 3 * 2.0 / 1e6)
    assert [a["status"] for a in event.attempts] == [502, 502, 200]  # every try kept; only the last one charged
    assert all(a["error"] for a in event.attempts[:2]) and not event.attempts[-1]["error"]
    assert event.attempts[-1]["endpoint_id"] == backup.pk


def test_a_429_with_retry_after_goes_to_the_next_route_at_once(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=429, retry_after=30)

    began = time.monotonic()
    answer = setup.chat("resilient-chat")

    assert answer.status_code == 200 and answer.headers["x-switchboard-endpoint"] == "backup/m-large"
    assert answer.headers["x-switchboard-attempts"] == "2"
    assert setup.upstreams.calls(setup.up("primary")) == 1  # not asked again before its Retry-After
    assert time.monotonic() - began < 5


def test_a_lone_route_that_says_retry_after_is_waited_for_then_retried(setup):
    setup.apply("""
  - alias: lone-chat
    kind: chat
    status: approved
    routes:
      - {provider: only, upstream_model: m}
""", "only", alias_names=("lone-chat",))
    setup.upstreams.set(setup.up("only"), mode="flaky", failures=1, status=429, retry_after=1)

    began = time.monotonic()
    answer = setup.chat("lone-chat")
    waited = time.monotonic() - began

    assert answer.status_code == 200 and answer.headers["x-switchboard-attempts"] == "2"
    assert setup.upstreams.calls(setup.up("only")) == 2
    assert waited >= 1.0  # never sooner than the upstream asked


def test_a_timeout_falls_back_to_the_next_route(setup):
    setup.apply("""
  - alias: resilient-chat
    kind: chat
    status: approved
    strategy: priority
    routes:
      - {provider: primary, upstream_model: m-large, priority: 1, timeouts: {connect: 1, first_byte: 0.5, total: 10}}
      - {provider: backup, upstream_model: m-large, priority: 2}
""", "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="hang")

    answer = setup.chat("resilient-chat")

    assert answer.status_code == 200 and answer.headers["x-switchboard-endpoint"] == "backup/m-large"
    assert answer.headers["x-switchboard-attempts"] == "2"  # a timed-out endpoint is not tried twice


def test_every_route_failing_is_the_last_error_with_the_number_of_tries(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=500)
    setup.upstreams.set(setup.up("backup"), mode="fail", status=503)

    answer = setup.chat("resilient-chat")

    assert answer.status_code == 503
    assert answer.json()["error"]["type"]
    assert answer.headers["x-switchboard-attempts"] == "4"  # GATEWAY_MAX_ATTEMPTS


def test_a_caller_error_from_the_provider_is_not_retried_anywhere(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=400)

    answer = setup.chat("resilient-chat")

    assert answer.status_code == 400 and answer.headers["x-switchboard-attempts"] == "1"
    assert setup.upstreams.calls(setup.up("backup")) == 0


def test_a_stream_that_fails_before_its_first_byte_falls_back(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=502)

    text = "".join(chunk.choices[0].delta.content or "" for chunk in setup.client.chat.completions.create(
        model="resilient-chat", messages=HELLO, stream=True) if chunk.choices)

    assert text.startswith(f"from {setup.up('backup')}")


@pytest.mark.smoke  # the embedded mode too: in-process breaker and caps
def test_a_stream_cut_after_it_started_ends_with_an_error_event_and_is_not_retried(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="cut", chunks=3)

    with httpx.stream("POST", setup.server.url("/v1/chat/completions"), timeout=30,
                      headers={"authorization": f"Bearer {setup.key}"},
                      json={"model": "resilient-chat", "messages": HELLO, "stream": True}) as response:
        assert response.status_code == 200
        assert response.headers["x-switchboard-endpoint"] == "primary/m-large"
        body = "".join(response.iter_text())

    events = [line.removeprefix("data: ") for line in body.splitlines() if line.startswith("data: ")]
    assert "from" in body  # the caller got the start of the answer...
    assert json.loads(events[-1])["error"]["type"]  # ...then an error event, in OpenAI's stream shape
    assert "[DONE]" not in events  # never a clean end after a truncated answer
    assert setup.upstreams.calls(setup.up("primary")) == 1
    assert setup.upstreams.calls(setup.up("backup")) == 0


def test_the_openai_sdk_raises_on_a_stream_cut_short(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="cut", chunks=2)

    with pytest.raises(openai.APIError):
        for _ in setup.client.chat.completions.create(model="resilient-chat", messages=HELLO, stream=True):
            pass


def test_the_anthropic_sdk_raises_on_a_stream_cut_short_and_a_fallback_before_output_is_invisible(setup):
    import anthropic

    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    client = anthropic.Anthropic(base_url=setup.server.base_url, api_key=setup.key, max_retries=0)
    setup.upstreams.set(setup.up("primary"), mode="fail", status=500)
    with client.messages.stream(model="resilient-chat", max_tokens=50, messages=HELLO) as stream:
        assert "".join(stream.text_stream).startswith(f"from {setup.up('backup')}")

    setup.upstreams.set(setup.up("backup"), mode="cut", chunks=2)
    with pytest.raises(anthropic.APIStatusError), client.messages.stream(
            model="resilient-chat", max_tokens=50, messages=HELLO) as stream:
        for _ in stream.text_stream:
            pass


def test_weighted_routes_split_traffic_as_weighted(setup):
    setup.apply("""
  - alias: canary-chat
    kind: chat
    status: approved
    strategy: weighted
    routes:
      - {provider: stable, upstream_model: m, weight: 90}
      - {provider: canary, upstream_model: m, weight: 10}
""", "stable", "canary", alias_names=("canary-chat",))

    served = Counter(setup.chat("canary-chat").headers["x-switchboard-endpoint"] for _ in range(300))

    # 10 % of 300 is 30; 12..55 holds with overwhelming probability (binomial sd ≈ 5.2).
    assert 12 <= served["canary/m"] <= 55 and served["stable/m"] + served["canary/m"] == 300


def test_sticky_assignment_keeps_each_user_on_one_variant_and_records_it(setup):
    setup.apply("""
  - alias: ab-chat
    kind: chat
    status: approved
    strategy: weighted
    sticky: user
    routes:
      - {provider: left, upstream_model: m, weight: 50, variant: a}
      - {provider: right, upstream_model: m, weight: 50, variant: b}
""", "left", "right", alias_names=("ab-chat",))

    seen: dict[str, set[str]] = {}
    request_ids = []
    for user in [f"user-{n}" for n in range(12)]:
        for _ in range(4):
            answer = setup.chat("ab-chat", user=user)
            seen.setdefault(user, set()).add(answer.headers["x-switchboard-endpoint"])
            request_ids.append(answer.headers["x-request-id"])

    assert all(len(endpoints) == 1 for endpoints in seen.values())  # each user stays on one variant
    assert {e for endpoints in seen.values() for e in endpoints} == {"left/m", "right/m"}  # both are used
    variants = {event.variant for event in _wait_for_events(request_ids, setup.server)}
    assert variants == {"a", "b"}


def test_least_latency_moves_away_from_an_endpoint_that_slows(setup):
    setup.apply("""
  - alias: quick-chat
    kind: chat
    status: approved
    strategy: least-latency
    routes:
      - {provider: east, upstream_model: m}
      - {provider: west, upstream_model: m}
""", "east", "west", alias_names=("quick-chat",))
    setup.upstreams.set(setup.up("east"), delay_ms=200)

    for _ in range(10):  # both get measured (two processes, each its own first calls)
        setup.chat("quick-chat")
    later = Counter(setup.chat("quick-chat").headers["x-switchboard-endpoint"] for _ in range(20))
    assert later["west/m"] >= 15  # one call in twenty explores the other route

    setup.upstreams.set(setup.up("east"), delay_ms=0)
    setup.upstreams.set(setup.up("west"), delay_ms=600)
    for _ in range(30):  # west's window fills with slow calls; explored calls find east fast again
        setup.chat("quick-chat")
    later = Counter(setup.chat("quick-chat").headers["x-switchboard-endpoint"] for _ in range(20))
    assert later["east/m"] >= 15


def test_least_cost_prefers_the_cheaper_endpoint_for_the_call(setup):
    setup.apply("""
  - alias: thrifty-chat
    kind: chat
    status: approved
    strategy: least-cost
    routes:
      - {provider: dear, upstream_model: m, pricing: {input_per_mtok: 10.0, output_per_mtok: 30.0}}
      - {provider: cheap, upstream_model: m, pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4}}
""", "dear", "cheap", alias_names=("thrifty-chat",))

    served = {setup.chat("thrifty-chat").headers["x-switchboard-endpoint"] for _ in range(5)}

    assert served == {"cheap/m"}


def test_rules_route_by_capability_and_by_prompt_length(setup):
    setup.apply("""
  - alias: ruled-chat
    kind: chat
    status: approved
    strategy: rules
    routes:
      - {provider: small, upstream_model: m, context_window: 1000, capabilities: [chat, streaming]}
      - {provider: vision, upstream_model: m, context_window: 1000, capabilities: [chat, streaming, vision]}
      - {provider: long, upstream_model: m, context_window: 200000, capabilities: [chat, streaming]}
    rules:
      - when: {capabilities: [vision]}
        use: [{provider: vision, upstream_model: m}]
      - when: {min_prompt_tokens: 2000}
        use: [{provider: long, upstream_model: m}]
""", "small", "vision", "long", alias_names=("ruled-chat",))

    plain = setup.chat("ruled-chat")
    image = httpx.post(setup.server.url("/v1/chat/completions"), headers={"authorization": f"Bearer {setup.key}"},
                       json={"model": "ruled-chat", "messages": [{"role": "user", "content": [
                           {"type": "text", "text": "What is this?"},
                           {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]}]})
    long = httpx.post(setup.server.url("/v1/chat/completions"), headers={"authorization": f"Bearer {setup.key}"},
                      json={"model": "ruled-chat", "messages": [{"role": "user", "content": "word " * 4000}]})

    assert plain.headers["x-switchboard-endpoint"] == "small/m"  # no rule matched: priority order
    assert image.headers["x-switchboard-endpoint"] == "vision/m"
    assert long.headers["x-switchboard-endpoint"] == "long/m"


def test_rules_route_by_the_teams_region(setup):
    setup.apply("""
  - alias: resident-chat
    kind: chat
    status: approved
    strategy: rules
    routes:
      - {provider: us, upstream_model: m}
      - {provider: eu, upstream_model: m}
    rules:
      - when: {regions: [eu]}
        use: [{provider: eu, upstream_model: m}]
""", "us", "eu", alias_names=("resident-chat",))
    from aiplatform.models import Tenant

    assert setup.chat("resident-chat").headers["x-switchboard-endpoint"] == "us/m"
    Tenant.objects.filter(slug="acme").update(region="eu")
    from aiplatform import config_version

    config_version.bump("keys")  # a team's region reaches the gateway with its keys
    wait_for(lambda: setup.chat("resident-chat").headers["x-switchboard-endpoint"] == "eu/m",
             what="the EU team to be routed to the EU endpoint")


@pytest.mark.smoke  # the embedded mode too: in-process breaker and caps
def test_the_breaker_opens_in_every_process_then_probes_and_closes(setup):
    setup.apply(PRIMARY_BACKUP, "primary", "backup", alias_names=("resilient-chat",))
    setup.upstreams.set(setup.up("primary"), mode="fail", status=500)

    for _ in range(8):
        assert setup.chat("resilient-chat").status_code == 200
    time.sleep(0.6)  # a few sync intervals: the processes share what they saw
    calls_before = setup.upstreams.calls(setup.up("primary"))
    answers = [setup.chat("resilient-chat") for _ in range(20)]

    assert [a.headers["x-switchboard-attempts"] for a in answers] == ["1"] * 20  # skipped, not waited on
    assert setup.upstreams.calls(setup.up("primary")) == calls_before  # no process sent it anything

    setup.upstreams.set(setup.up("primary"))  # it recovers

    def primary_serves_again() -> bool:
        return setup.chat("resilient-chat").headers["x-switchboard-endpoint"] == "primary/m-large"

    # After GATEWAY_BREAKER_OPEN_SECONDS the circuit is half-open; a probe's success closes it.
    wait_for(primary_serves_again, seconds=20, what="a probe to close the circuit")
    time.sleep(0.6)
    served = [setup.chat("resilient-chat").headers["x-switchboard-endpoint"] for _ in range(10)]
    assert served == ["primary/m-large"] * 10


@pytest.mark.smoke  # the embedded mode too: in-process breaker and caps
def test_an_endpoint_at_its_in_flight_cap_sheds_to_the_next_route_or_answers_503(setup):
    setup.apply("""
  - alias: capped-chat
    kind: chat
    status: approved
    strategy: priority
    routes:
      - {provider: small, upstream_model: m, priority: 1, max_in_flight: 1}
      - {provider: big, upstream_model: m, priority: 2}
  - alias: lone-capped-chat
    kind: chat
    status: approved
    routes:
      - {provider: small, upstream_model: m2, max_in_flight: 1}
""", "small", "big", alias_names=("capped-chat", "lone-capped-chat"))
    setup.upstreams.set(setup.up("small"), delay_ms=1000)

    async def together(alias: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await asyncio.gather(*(client.post(
                setup.server.url("/v1/chat/completions"), headers={"authorization": f"Bearer {setup.key}"},
                json={"model": alias, "messages": HELLO}) for _ in range(3)))

    served = Counter(r.headers.get("x-switchboard-endpoint") for r in asyncio.run(together("capped-chat")))
    assert served == {"small/m": 1, "big/m": 2}  # one slot, across both processes

    lone = asyncio.run(together("lone-capped-chat"))
    assert sorted(r.status_code for r in lone) == [200, 503, 503]
    assert all(r.headers.get("retry-after") for r in lone if r.status_code == 503)


def test_a_team_with_approved_dedicated_hosting_is_routed_to_its_endpoint(setup):
    setup.apply("""
  - alias: shared-chat
    kind: chat
    status: approved
    routes:
      - {provider: shared, upstream_model: m}
endpoints:
  - {provider: hosted, upstream_model: m-dedicated}
""", "shared", "hosted", alias_names=("shared-chat",))
    other_team = create_key("globex", "their-app", ["shared-chat"])["key"]
    from aiplatform.models import Tenant
    from portal.services.hosting import approve_hosting_request, request_hosting
    from registry.models import ModelAlias

    assert setup.chat("shared-chat").headers["x-switchboard-endpoint"] == "shared/m"
    hosting = request_hosting(actor=None, tenant=Tenant.objects.get(slug="acme"),
                              alias=ModelAlias.objects.get(name="shared-chat"), expected_requests_per_minute=600,
                              business_case="Steady checkout traffic")
    approve_hosting_request(actor=None, request=hosting, endpoint=Endpoint.objects.get(upstream_model="m-dedicated"))

    wait_for(lambda: setup.chat("shared-chat").headers["x-switchboard-endpoint"] == "hosted/m-dedicated",
             what="the team's calls to reach its dedicated endpoint")
    theirs = httpx.post(setup.server.url("/v1/chat/completions"), headers={"authorization": f"Bearer {other_team}"},
                        json={"model": "shared-chat", "messages": HELLO})
    assert theirs.headers["x-switchboard-endpoint"] == "shared/m"  # other teams stay on the shared routes

    setup.upstreams.set(setup.up("hosted"), mode="fail", status=503)
    assert setup.chat("shared-chat").headers["x-switchboard-endpoint"] == "shared/m"  # its failure falls back
