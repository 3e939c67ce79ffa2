"""The anthropic adapter against the Messages API: request translation, answers, streaming events, errors."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequestError, UpstreamError, UpstreamRateLimitError, UpstreamUnavailableError
from gateway.normal import ChatRequest, EmbeddingRequest, Message, Tool
from gateway.providers import ADAPTERS
from tests.gateway.streams import collect, sse

MESSAGES = "/v1/messages"
KEY = "sk-ant-api03-TESTKEYabcdefghijklmnop"


@pytest.fixture
def target(make_target, upstream):
    return make_target("anthropic", base_url=upstream.url, upstream_model="claude-3-5-haiku-20241022", api_key=KEY)


def req(**kw) -> ChatRequest:
    return ChatRequest(
        model="alias", messages=[Message("system", "Be nice."), Message("user", "Weather in Paris?")], **kw
    )


WEATHER = Tool("get_weather", "Get the weather", {"type": "object", "properties": {"location": {"type": "string"}}})


@pytest.mark.smoke
async def test_chat_translates_both_ways(target, upstream):
    route = upstream.post(MESSAGES).respond(
        200,
        json={
            "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [
                {"type": "text", "text": "I'll check."},
                {
                    "type": "tool_use",
                    "id": "toolu_01A09q90qw90lq917835lq9",
                    "name": "get_weather",
                    "input": {"location": "Paris"},
                },
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 384, "output_tokens": 57},
        },
    )
    resp = await ADAPTERS["anthropic"].chat(req(tools=[WEATHER], max_tokens=100), target)

    sent = route.last
    assert sent.headers["x-api-key"] == KEY and sent.headers["anthropic-version"] == "2023-06-01"
    body = sent.json()
    assert body["system"] == "Be nice." and body["max_tokens"] == 100
    assert body["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]}]
    assert body["tools"][0]["input_schema"]["properties"] == {"location": {"type": "string"}}
    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == "I'll check."
    assert choice.message.tool_calls[0].arguments == '{"location":"Paris"}'
    assert resp.usage.prompt_tokens == 384 and resp.usage.completion_tokens == 57


async def test_default_max_tokens_is_sent(target, upstream):
    route = upstream.post(MESSAGES).respond(
        200,
        json={
            "id": "msg_1",
            "content": [{"type": "text", "text": "ok"}],
            "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1},
        },
    )
    await ADAPTERS["anthropic"].chat(req(), target)
    assert route.last.json()["max_tokens"] == 4096


STREAM = [
    {
        "type": "message_start",
        "message": {
            "id": "msg_014p7gG3wDgGV9EUtLvnow3U",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "stop_sequence": None,
            "usage": {"input_tokens": 472, "output_tokens": 2},
            "content": [],
            "stop_reason": None,
        },
    },
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Okay"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": ", let's check"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {
            "type": "tool_use",
            "id": "toolu_01T1x1fJ34qAmk2tNTrN7Up6",
            "name": "get_weather",
            "input": {},
        },
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}},
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"location": "San Fra'},
    },
    {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": 'ncisco, CA"}'}},
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 89},
    },
    {"type": "message_stop"},
]


async def test_stream_events_become_chunks(target, upstream):
    route = upstream.post(MESSAGES).respond(200, chunks=[sse(event, named=True) for event in STREAM])

    chunks = await collect(ADAPTERS["anthropic"].chat_stream(req(tools=[WEATHER]), target))

    assert route.last.json()["stream"] is True
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Okay, let's check"
    calls = [tc for c in chunks for tc in c.tool_calls or ()]
    assert (calls[0].index, calls[0].id, calls[0].name) == (0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")
    assert "".join(tc.arguments for tc in calls) == '{"location": "San Francisco, CA"}'
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage.prompt_tokens == 472 and chunks[-1].usage.completion_tokens == 89
    assert chunks[-1].usage.source == "provider"


async def test_overloaded_error_event_mid_stream_is_a_503(target, upstream):
    events = [
        STREAM[0],
        STREAM[1],
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    ]
    upstream.post(MESSAGES).respond(200, chunks=[sse(event, named=True) for event in events])
    with pytest.raises(UpstreamUnavailableError):
        await collect(ADAPTERS["anthropic"].chat_stream(req(), target))


@pytest.mark.parametrize(
    ("status", "etype", "cls", "code"),
    [
        (401, "authentication_error", UpstreamError, 502),
        (429, "rate_limit_error", UpstreamRateLimitError, 429),
        (529, "overloaded_error", UpstreamUnavailableError, 503),
        (500, "api_error", UpstreamError, 502),
    ],
)
async def test_error_answers(target, upstream, status, etype, cls, code):
    upstream.post(MESSAGES).respond(
        status, json={"type": "error", "error": {"type": etype, "message": f"x-api-key {KEY} problem"}}
    )
    with pytest.raises(cls) as info:
        await ADAPTERS["anthropic"].chat(req(), target)
    assert info.value.status == code and KEY not in info.value.message


async def test_anthropic_has_no_embeddings(target):
    with pytest.raises(BadRequestError):
        await ADAPTERS["anthropic"].embed(EmbeddingRequest("alias", ["x"]), target)
