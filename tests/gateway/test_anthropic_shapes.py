"""Anthropic's exact shapes on the gateway's Anthropic surface, without a server: toolu_ ids, /v1/models in
Anthropic's list shape (paging), token counting (the provider's count, the tokenizer's), the caller's
anthropic-beta / anthropic-version reaching Anthropic upstreams, and an upstream's ``param`` kept."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal

import orjson
import pytest
from anthropic.types import MessageTokensCount, ModelInfo, RawMessageStreamEvent
from pydantic import TypeAdapter

from gateway import tokens
from gateway.errors import BadRequestError, UpstreamBadRequestError
from gateway.models_list import render_model, render_model_list
from gateway.normal import ChatChunk, ChatRequest, ChatResponse, Choice, Message, ToolCall, ToolCallDelta, Usage
from gateway.pipeline.context import CallContext
from gateway.providers import ADAPTERS
from gateway.providers.base import UpstreamTarget
from gateway.state import Snapshot
from gateway.token_count import count_input_tokens
from gateway.wire.anthropic import StreamWriter, message_dict, parse_messages_request, passthrough_headers, tool_use_id
from portal.selectors import KeyGrant
from registry.selectors import AliasRouting, RouteTarget

_ids = itertools.count(950_000)
EVENT = TypeAdapter(RawMessageStreamEvent)


def route(kind: str = "openai-compatible", model: str = "gpt-4o") -> RouteTarget:
    return RouteTarget(
        endpoint_id=next(_ids), provider_name=kind, provider_kind=kind, base_url="http://x/v1", region="",
        upstream_model=model, api_key_ref="", provider_config={}, weight=100, priority=0,
        capabilities=frozenset({"chat"}), context_window=None, connect_timeout=1, first_byte_timeout=1,
        total_timeout=10, input_price_per_mtok=Decimal(1), output_price_per_mtok=Decimal(2),
        price_per_image=Decimal(0), price_per_request=Decimal(0))


def alias(name: str, *, routes=(), approved_on: date | None = None, created_at: datetime | None = None,
          status: str = "approved") -> AliasRouting:
    return AliasRouting(name=name, kind="chat", status=status, approved_on=approved_on, deprecated_on=None,
                        sunset_on=None, retired_on=None, replacement=None, routes=tuple(routes), created_at=created_at)


def context(aliases: list[AliasRouting], *, style: str = "anthropic", query: str = "", targets=None) -> CallContext:
    snapshot = Snapshot(routing={a.name: a for a in aliases}, targets=targets or {})
    ctx = CallContext(request_id="r", client_ip=None, headers={}, operation="models", snapshot=snapshot,
                      style=style, query=query)
    ctx.grant = KeyGrant(key_id=1, key_prefix="sb-x", tenant_id=1, tenant_slug="acme", tenant_region="global",
                         application_id=1, application_name="app", environment="prod",
                         data_classification="internal", aliases=frozenset(a.name for a in aliases), expires_at=None,
                         revoked=False, ip_allowlist=())
    return ctx


# --- toolu_ ids ---------------------------------------------------------------------------------------------

def test_tool_ids_become_toolu_ids_deterministically():
    assert tool_use_id("call_abc") == tool_use_id("call_abc") == "toolu_abc"
    assert tool_use_id("toolu_01A09q90qw90lq917835lq9") == "toolu_01A09q90qw90lq917835lq9"
    assert tool_use_id("fc-1.2/3") == "toolu_fc-1_2_3"  # only the characters Anthropic allows


def test_a_message_and_a_stream_carry_toolu_ids():
    call = ToolCall("call_xyz", "weather", '{"city": "Oslo"}')
    resp = ChatResponse("chatcmpl-1", "m", [Choice(0, Message("assistant", None, tool_calls=[call]), "tool_calls")],
                        Usage.of(1, 1))
    assert message_dict(resp)["content"][0]["id"] == "toolu_xyz"

    writer = StreamWriter(model="m")
    raw = writer.start() + writer.feed(ChatChunk("c", "m", tool_calls=[ToolCallDelta(0, "call_xyz", "weather")]))
    starts = [orjson.loads(line[6:]) for line in raw.decode().splitlines() if '"content_block_start"' in line]
    EVENT.validate_python(starts[0])
    assert starts[0]["content_block"]["id"] == "toolu_xyz"


def test_the_toolu_id_sent_back_reaches_the_upstream_unchanged_on_both_sides():
    req = parse_messages_request({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_xyz", "name": "weather", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_xyz", "content": "12C"}]},
    ]})
    assert req.messages[1].tool_calls[0].id == req.messages[2].tool_call_id == "toolu_xyz"


# --- the caller's anthropic headers ----------------------------------------------------------------------------

def test_only_the_two_anthropic_headers_and_only_a_well_formed_version_pass():
    assert passthrough_headers({"anthropic-beta": "tools-2024-04-04", "anthropic-version": "2023-06-01",
                                "x-api-key": "sb-secret", "authorization": "Bearer x"}) == {
        "anthropic-beta": "tools-2024-04-04", "anthropic-version": "2023-06-01"}
    assert passthrough_headers({"anthropic-version": "latest"}) == {}


async def test_an_anthropic_upstream_receives_the_callers_headers(make_target, upstream):
    route_ = upstream.post("/v1/messages").respond(200, json={
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [{"type": "text",
        "text": "hi"}], "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1,
                                                                                    "output_tokens": 1}})
    target = make_target("anthropic", base_url=upstream.url, upstream_model="claude",
                         config={"anthropic_version": "2023-01-01", "headers": {"x-extra": "1"}})
    req = ChatRequest(model="a", messages=[Message("user", "hi")], max_tokens=5,
                      passthrough_headers={"anthropic-beta": "files-api-2025-04-14", "anthropic-version": "2023-06-01"})
    await ADAPTERS["anthropic"].chat(req, target)

    sent = route_.last.headers
    assert sent["anthropic-beta"] == "files-api-2025-04-14" and sent["anthropic-version"] == "2023-06-01"
    assert sent["x-extra"] == "1"


async def test_without_the_callers_headers_the_endpoints_version_is_sent(make_target, upstream):
    route_ = upstream.post("/v1/messages").respond(200, json={
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude", "content": [],
        "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1}})
    target = make_target("anthropic", base_url=upstream.url, config={"anthropic_version": "2023-01-01"})
    await ADAPTERS["anthropic"].chat(ChatRequest(model="a", messages=[Message("user", "hi")]), target)

    assert route_.last.headers["anthropic-version"] == "2023-01-01" and "anthropic-beta" not in route_.last.headers


# --- token counting --------------------------------------------------------------------------------------------

COUNTED = {"model": "a", "system": "Be brief.", "messages": [{"role": "user", "content": "Hello there"}],
           "tools": [{"name": "weather", "input_schema": {"type": "object"}}], "thinking": {"type": "enabled",
                                                                                             "budget_tokens": 1024}}


def test_count_tokens_needs_no_max_tokens_but_checks_one_given():
    assert parse_messages_request(COUNTED, counting=True).max_tokens is None
    with pytest.raises(BadRequestError) as info:
        parse_messages_request({**COUNTED, "max_tokens": 0}, counting=True)
    assert info.value.param == "max_tokens"
    with pytest.raises(BadRequestError):
        parse_messages_request(COUNTED)  # /v1/messages itself still requires it


async def test_an_anthropic_endpoint_is_asked_its_own_count(upstream):
    counted = upstream.post("/v1/messages/count_tokens").respond(200, json={"input_tokens": 42})
    first = route("anthropic", "claude-sonnet-4")
    target = UpstreamTarget(provider_kind="anthropic", base_url=upstream.url, upstream_model="claude-sonnet-4")
    ctx = context([alias("a", routes=[first])], targets={first.endpoint_id: target})
    ctx.routing = ctx.snapshot.routing["a"]
    req = parse_messages_request(COUNTED, counting=True)
    req.passthrough_headers = {"anthropic-beta": "token-counting-2024-11-01"}

    count = await count_input_tokens(ctx, req)

    assert MessageTokensCount.model_validate({"input_tokens": count}, strict=True).input_tokens == 42
    body = counted.last.json()
    assert body["model"] == "claude-sonnet-4" and body["system"] == "Be brief." and body["thinking"]["type"] == "enabled"
    assert "max_tokens" not in body and "stream" not in body
    assert counted.last.headers["anthropic-beta"] == "token-counting-2024-11-01"


async def test_a_failing_anthropic_count_falls_back_to_the_tokenizer(upstream):
    upstream.post("/v1/messages/count_tokens").respond(500, json={"error": {"message": "down"}})
    first = route("anthropic", "claude-sonnet-4")
    target = UpstreamTarget(provider_kind="anthropic", base_url=upstream.url, upstream_model="claude-sonnet-4")
    ctx = context([alias("a", routes=[first])], targets={first.endpoint_id: target})
    ctx.routing = ctx.snapshot.routing["a"]
    req = parse_messages_request(COUNTED, counting=True)

    assert await count_input_tokens(ctx, req) == tokens.count_prompt(req, "claude-sonnet-4")[0]


async def test_other_endpoints_count_with_the_first_serving_endpoints_tokenizer():
    first, second = route(model="gpt-4o"), route(model="gpt-3.5-turbo")
    targets = {r.endpoint_id: UpstreamTarget(provider_kind=r.provider_kind, upstream_model=r.upstream_model)
               for r in (first, second)}
    ctx = context([alias("a", routes=[first, second])], targets=targets)
    ctx.routing = ctx.snapshot.routing["a"]
    req = parse_messages_request(COUNTED, counting=True)

    assert await count_input_tokens(ctx, req) == tokens.count_prompt(req, "gpt-4o")[0] > 0


# --- /v1/models in Anthropic's shape --------------------------------------------------------------------------

ALIASES = [alias(f"m{i}", created_at=datetime(2026, 1, 1 + i, 12, 30, tzinfo=UTC)) for i in range(5)]


def test_models_in_anthropics_list_shape_newest_first():
    page = orjson.loads(render_model_list(context(ALIASES)))

    for model in page["data"]:
        ModelInfo.model_validate_json(orjson.dumps(model), strict=True)
        assert model["display_name"] == model["id"]
    assert [m["id"] for m in page["data"]] == ["m4", "m3", "m2", "m1", "m0"]
    assert page["data"][0]["created_at"] == "2026-01-05T12:30:00Z"
    assert (page["has_more"], page["first_id"], page["last_id"]) == (False, "m4", "m0")


def test_anthropic_paging_with_limit_after_id_and_before_id():
    first = orjson.loads(render_model_list(context(ALIASES, query="limit=2")))
    assert [m["id"] for m in first["data"]] == ["m4", "m3"] and first["has_more"]
    second = orjson.loads(render_model_list(context(ALIASES, query=f"limit=2&after_id={first['last_id']}")))
    assert [m["id"] for m in second["data"]] == ["m2", "m1"] and second["has_more"]
    last = orjson.loads(render_model_list(context(ALIASES, query="limit=2&after_id=m1")))
    assert [m["id"] for m in last["data"]] == ["m0"] and not last["has_more"]
    back = orjson.loads(render_model_list(context(ALIASES, query="limit=2&before_id=m1")))
    assert [m["id"] for m in back["data"]] == ["m3", "m2"] and back["has_more"]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "after_id=nope", "after_id=m1&before_id=m2"])
def test_bad_paging_is_a_400_naming_the_param(query):
    with pytest.raises(BadRequestError) as info:
        render_model_list(context(ALIASES, query=query))
    assert info.value.param in ("limit", "after_id", "before_id")


def test_one_model_in_anthropics_shape_and_created_from_the_approval_day():
    approved = alias("m", approved_on=date(2026, 1, 5), created_at=datetime(2025, 3, 1, tzinfo=UTC))
    ModelInfo.model_validate_json(render_model(context([approved]), "m"), strict=True)
    assert orjson.loads(render_model(context([approved]), "m"))["created_at"] == "2026-01-05T00:00:00Z"
    assert orjson.loads(render_model(context([approved], style="openai"), "m"))["created"] == 1767571200


def test_openai_created_is_the_creation_time_without_an_approval_day():
    made = alias("m", created_at=datetime(2026, 2, 1, 8, 0, tzinfo=UTC))
    listed = orjson.loads(render_model_list(context([made], style="openai")))
    assert listed["data"][0]["created"] == int(made.created_at.timestamp())


# --- an upstream's param ---------------------------------------------------------------------------------------

async def test_an_upstream_400_keeps_the_param_it_named(make_target, upstream):
    upstream.post("/v1/chat/completions").respond(400, json={"error": {
        "message": "Unsupported value: 'temperature' does not support 0.2 with this model.",
        "type": "invalid_request_error", "param": "temperature", "code": "unsupported_value"}})
    target = make_target("openai-compatible", base_url=upstream.url + "/v1", upstream_model="o3")

    with pytest.raises(UpstreamBadRequestError) as info:
        await ADAPTERS["openai-compatible"].chat(ChatRequest(model="a", messages=[Message("user", "hi")],
                                                             temperature=0.2), target)
    assert info.value.param == "temperature"
    assert orjson.loads(info.value.to_openai_json())["error"]["param"] == "temperature"

