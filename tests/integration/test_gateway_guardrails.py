"""Guardrails end to end: the real gateway, real fake upstreams that echo what they received, the official SDK.

Policies are applied with ``registry apply`` as an operator would. Each test checks what the upstream
received (placeholders, or nothing at all), what the caller got back, and what the ledger kept (the
decisions, never the values).
"""

from __future__ import annotations

import json

import openai
import pytest
from django.db import connection

from portal.models import UsageEvent
from tests.integration.gateway_setup import wait_for
from tests.integration.routing_setup import Setup
from tests.servers import start_server

pytestmark = pytest.mark.integration

EMAIL, CARD = "ann.smith@corp.example", "4111 1111 1111 1111"


@pytest.fixture(scope="module")
def guard_server(django_db_setup):
    with start_server() as server:
        yield server


@pytest.fixture
def setup(transactional_db, guard_server, upstreams, tmp_path, request):
    return Setup(guard_server, upstreams, tmp_path, request.node.name.removeprefix("test_")[:40].replace("_", "-"))


ONE_ROUTE = """
  - alias: guarded-chat
    kind: chat
    status: approved
    routes:
      - {provider: main, upstream_model: m-large}
    pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"""

PII_POLICY = """
policies:
  - name: pii-basic
    applies_to: {aliases: [guarded-chat]}
    input:
      - {detector: email, action: mask}
      - {detector: payment_card, action: block}
    output:
      - {detector: email, action: mask}
    unmask_output: true
"""


def _events(request_ids: list[str]) -> list[UsageEvent]:
    def found():
        connection.close()  # see the worker's commits
        return UsageEvent.objects.filter(request_id__in=request_ids).count() == len(request_ids)

    wait_for(found, seconds=20, what="the calls in the ledger")
    return list(UsageEvent.objects.filter(request_id__in=request_ids))


def _pii(setup: Setup) -> Setup:
    setup.apply(ONE_ROUTE, "main", alias_names=("guarded-chat",), more_yaml=PII_POLICY)
    setup.upstreams.set(setup.up("main"), echo=True)
    return setup


def test_the_upstream_gets_placeholders_and_the_caller_the_original_back(setup):
    _pii(setup)
    prompt = f"Please write to {EMAIL} and copy {EMAIL}; also bob@corp.example."
    raw = setup.client.chat.completions.with_raw_response.create(
        model="guarded-chat", messages=[{"role": "system", "content": f"The user is {EMAIL}."},
                                        {"role": "user", "content": prompt}])
    answer = raw.parse()
    sent = setup.upstreams.last_request(setup.up("main"))
    assert sent["messages"][0]["content"] == "The user is <EMAIL_1>."
    assert sent["messages"][1]["content"] == "Please write to <EMAIL_1> and copy <EMAIL_1>; also <EMAIL_2>."
    assert EMAIL not in json.dumps(sent)
    assert answer.choices[0].message.content == prompt  # the echo, un-masked for the caller

    (event,) = _events([raw.headers["x-request-id"]])
    assert event.status == 200
    assert {(d["stage"], d["detector"], d["action"], d["count"]) for d in event.guard} == {
        ("input", "email", "mask", 4)}
    assert EMAIL not in json.dumps(event.guard) and "bob@" not in json.dumps(event.guard)


def test_a_block_never_reaches_the_upstream(setup):
    _pii(setup)
    with pytest.raises(openai.PermissionDeniedError) as refused:
        setup.client.chat.completions.create(
            model="guarded-chat", messages=[{"role": "user", "content": f"My card is {CARD}, book it."}])
    error = refused.value
    assert error.status_code == 403
    assert error.body["code"] == "policy_violation"
    assert "pii-basic" in error.message and "payment_card" in error.message
    assert "4111" not in error.message and "4111" not in error.response.text
    assert setup.upstreams.calls(setup.up("main")) == 0

    (event,) = _events([error.response.headers["x-request-id"]])
    assert (event.status, event.error_class) == (403, "policy_violation")
    assert [(d["policy"], d["detector"], d["action"]) for d in event.guard] == [
        ("pii-basic", "payment_card", "block")]
    assert "4111" not in json.dumps(event.guard)


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 8, 13])
def test_a_streamed_answer_is_masked_and_restored_across_every_chunk_split(setup, piece):
    _pii(setup)
    answer = "Sure: <EMAIL_1> wrote to eve@else.example and <EMAIL_1> again; <EMAIL_7> is not ours."
    setup.upstreams.set(setup.up("main"), answer=answer, piece=piece)
    stream = setup.client.chat.completions.create(
        model="guarded-chat", stream=True, messages=[{"role": "user", "content": f"Who is {EMAIL}?"}])
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    text = "".join(pieces)
    assert text == f"Sure: {EMAIL} wrote to <EMAIL_2> and {EMAIL} again; <EMAIL_7> is not ours."
    assert not any("eve@" in p or "else.example" in p for p in pieces)
    assert setup.upstreams.last_request(setup.up("main"))["messages"][0]["content"] == "Who is <EMAIL_1>?"


def test_a_stream_blocked_by_an_output_rule_ends_with_an_error_and_no_byte_of_the_match(setup):
    setup.apply(ONE_ROUTE, "main", alias_names=("guarded-chat",), more_yaml="""
policies:
  - name: no-cards-out
    output:
      - {detector: payment_card, action: block}
""")
    setup.upstreams.set(setup.up("main"), answer=f"Here it is: {CARD}. Done.", piece=2)
    stream = setup.client.chat.completions.create(
        model="guarded-chat", stream=True, messages=[{"role": "user", "content": "Give me a card."}])
    pieces = []
    with pytest.raises(openai.APIError) as ended:
        for chunk in stream:
            if chunk.choices:
                pieces.append(chunk.choices[0].delta.content or "")
    assert "policy_violation" in str(ended.value.body) or "no-cards-out" in str(ended.value)
    assert "4111" not in "".join(pieces) and "".join(pieces) in "Here it is: "


RESIDENT = """
  - alias: resident-chat
    kind: chat
    status: approved
    strategy: priority
    routes:
      - {provider: euro, upstream_model: m-large, priority: 1}
      - {provider: yank, upstream_model: m-large, priority: 2}
    pricing: {input_per_mtok: 1.0, output_per_mtok: 2.0}
"""
EU_ONLY = """
policies:
  - name: eu-residency
    applies_to: {tenants: [acme]}
    residency: {regions: [eu]}
"""


def test_residency_holds_under_fallback(setup):
    setup.apply(RESIDENT, "euro", "yank", alias_names=("resident-chat",), more_yaml=EU_ONLY,
                regions={"euro": "eu-west-1", "yank": "us-east-1"})
    assert setup.chat("resident-chat").status_code == 200  # served in the EU
    setup.upstreams.set(setup.up("euro"), mode="fail", status=503)
    setup.upstreams.set(setup.up("yank"))
    refused = setup.chat("resident-chat")
    assert refused.status_code in (502, 503)  # the EU endpoint failed; the US one is not a fallback for this team
    assert setup.upstreams.calls(setup.up("yank")) == 0
    assert setup.upstreams.calls(setup.up("euro")) >= 1


def test_no_endpoint_in_the_allowed_regions_fails_closed_naming_the_policy(setup):
    setup.apply(RESIDENT, "euro", "yank", alias_names=("resident-chat",), more_yaml=EU_ONLY,
                regions={"euro": "us-west-2", "yank": "us-east-1"})
    refused = setup.chat("resident-chat")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "policy_violation"
    assert "eu-residency" in refused.json()["error"]["message"]
    assert setup.upstreams.calls(setup.up("euro")) == setup.upstreams.calls(setup.up("yank")) == 0


SCHEMA = {"type": "json_schema", "json_schema": {"name": "city", "schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def test_an_answer_off_the_requested_json_schema_is_asked_once_more_then_refused(setup):
    setup.apply(ONE_ROUTE, "main", alias_names=("guarded-chat",))
    setup.upstreams.set(setup.up("main"), answer='{"town": "Paris"}')
    refused = setup.chat("guarded-chat", response_format=SCHEMA)
    assert refused.status_code == 502
    assert "JSON schema" in refused.json()["error"]["message"]
    assert setup.upstreams.calls(setup.up("main")) == 2
    setup.upstreams.set(setup.up("main"), answer='{"city": "Paris"}')
    served = setup.chat("guarded-chat", response_format=SCHEMA)
    assert served.status_code == 200 and json.loads(served.json()["choices"][0]["message"]["content"]) == {
        "city": "Paris"}
    assert setup.upstreams.calls(setup.up("main")) == 1


def test_the_responses_api_is_guarded_like_chat(setup):
    """/v1/responses takes the same steps 3 and 6: masked on the way in, restored on the way out, whole or streamed."""
    _pii(setup)
    answer = setup.client.responses.create(model="guarded-chat", instructions=f"The user is {EMAIL}.",
                                           input=f"Write to {EMAIL}.")
    sent = setup.upstreams.last_request(setup.up("main"))
    assert [m["content"] for m in sent["messages"]][0] == "The user is <EMAIL_1>."
    assert EMAIL not in json.dumps(sent)
    assert answer.output_text == f"Write to {EMAIL}."  # the echo, un-masked

    setup.upstreams.set(setup.up("main"), answer="Mail <EMAIL_1> or eve@else.example.", piece=3)
    events = list(setup.client.responses.create(model="guarded-chat", input=f"Who is {EMAIL}?", stream=True))
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == events[-1].response.output_text == f"Mail {EMAIL} or <EMAIL_2>."
    assert not any("eve@" in d for d in deltas)


def test_a_responses_call_a_policy_blocks_is_403_and_stores_nothing(setup):
    from gateway.models import StoredResponse

    _pii(setup)
    before = StoredResponse.objects.count()
    with pytest.raises(openai.PermissionDeniedError) as refused:
        setup.client.responses.create(model="guarded-chat", input=f"My card is {CARD}.")
    assert refused.value.body["code"] == "policy_violation" and "4111" not in refused.value.response.text
    assert setup.upstreams.calls(setup.up("main")) == 0
    assert StoredResponse.objects.count() == before
