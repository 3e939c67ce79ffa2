"""The openai / openai-compatible adapter against OpenAI's wire format (a loopback server plays the upstream)."""

from __future__ import annotations

import pytest

from gateway.errors import (
    UpstreamBadRequestError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
)
from gateway.normal import ChatRequest, EmbeddingRequest, Message, Tool
from gateway.providers import ADAPTERS
from tests.gateway.streams import collect, sse

CHAT = "/v1/chat/completions"
KEY = "sk-proj-TESTKEY1234567890abcdef"

COMPLETION = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello! How can I help?", "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 19,
        "completion_tokens": 10,
        "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}


def chunk(delta=None, finish=None, usage=None, choices=True):
    out = {
        "id": "chatcmpl-stream1",
        "object": "chat.completion.chunk",
        "created": 1741570283,
        "model": "gpt-4o-mini-2024-07-18",
        "service_tier": "default",
        "system_fingerprint": "fp_06737a9306",
        "choices": [{"index": 0, "delta": delta or {}, "logprobs": None, "finish_reason": finish}] if choices else [],
    }
    if usage is not None or not choices:
        out["usage"] = usage
    return out


def pieces(body: bytes, size: int) -> list[bytes]:
    """`body` cut every `size` bytes, mid-line: the adapter must reassemble the events."""
    return [body[i : i + size] for i in range(0, len(body), size)]


def req(**kw) -> ChatRequest:
    return ChatRequest(model="my-alias", messages=[Message("user", "Hello")], **kw)


@pytest.fixture
def target(make_target, upstream):
    return make_target("openai", base_url=upstream.url + "/v1", upstream_model="gpt-4o", api_key=KEY)


@pytest.mark.smoke
async def test_chat_sends_openai_body_and_reads_answer(target, upstream):
    route = upstream.post(CHAT).respond(200, json=COMPLETION)

    resp = await ADAPTERS["openai"].chat(req(temperature=0.1, max_tokens=20), target)

    sent = route.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json() == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hello"}],
        "temperature": 0.1,
        "max_tokens": 20,
    }
    assert resp.choices[0].message.content == "Hello! How can I help?"
    assert resp.usage.prompt_tokens == 19 and resp.usage.total_tokens == 29 and resp.usage.source == "provider"


async def test_compatible_server_without_usage_or_key_gets_counted_usage(make_target, upstream):
    target = make_target("openai-compatible", base_url=upstream.url + "/v1", upstream_model="gpt-4o-mini")
    body = {**COMPLETION, "usage": None}
    route = upstream.post(CHAT).respond(200, json=body)

    resp = await ADAPTERS["openai-compatible"].chat(req(), target)

    assert "authorization" not in route.last.headers
    assert resp.usage.source == "tokenizer" and resp.usage.completion_tokens > 0 and resp.usage.prompt_tokens > 0


async def test_stream_passes_chunks_and_puts_provider_usage_last(target, upstream):
    body = sse(
        chunk({"role": "assistant", "content": "", "refusal": None}),
        chunk({"content": "Hel"}),
        chunk({"content": "lo"}),
        chunk({}, "stop"),
        chunk(usage={"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10}, choices=False),
        done=True,
    )
    route = upstream.post(CHAT).respond(200, chunks=pieces(body, 97))

    chunks = await collect(ADAPTERS["openai"].chat_stream(req(stream=True), target))

    sent = route.last.json()
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert [c.content for c in chunks[:3]] == ["", "Hel", "lo"]
    assert chunks[3].finish_reason == "stop"
    assert all(c.usage is None for c in chunks[:-1])
    assert chunks[-1].usage.total_tokens == 10 and chunks[-1].usage.source == "provider"


async def test_stream_of_tool_calls_without_usage_is_counted(target, upstream):
    events = [
        chunk(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "index": 0,
                        "id": "call_DdmO9pD3xa9XTPNJ32zg2hcA",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": ""},
                    }
                ],
            }
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"location":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
        chunk({}, "tool_calls"),
    ]
    upstream.post(CHAT).respond(200, chunks=[*(sse(event) for event in events), b"data: [DONE]\n\n"])
    tools = [Tool("get_weather", parameters={"type": "object", "properties": {"location": {"type": "string"}}})]

    chunks = await collect(ADAPTERS["openai"].chat_stream(req(stream=True, tools=tools), target))

    first = chunks[0].tool_calls[0]
    assert (first.id, first.name) == ("call_DdmO9pD3xa9XTPNJ32zg2hcA", "get_weather")
    assert "".join(c.tool_calls[0].arguments for c in chunks if c.tool_calls) == '{"location":"Paris"}'
    assert chunks[-2].finish_reason == "tool_calls"
    assert chunks[-1].usage.source == "tokenizer" and chunks[-1].usage.completion_tokens > 0


async def test_upstream_401_is_a_502_without_the_key(target, upstream):
    upstream.post(CHAT).respond(
        401,
        json={
            "error": {
                "message": f"Incorrect API key provided: {KEY}. You can find your API key at https://platform.openai.com/account/api-keys.",
                "type": "invalid_request_error",
                "param": None,
                "code": "invalid_api_key",
            }
        },
    )
    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["openai"].chat(req(), target)

    err = info.value
    assert err.status == 502 and err.code == "upstream_auth_failed"
    assert KEY not in err.message and "TESTKEY" not in err.message and "platform.openai.com" not in err.message
    assert "Incorrect API key provided" in err.message


async def test_upstream_context_length_error_is_the_callers_400(target, upstream):
    upstream.post(CHAT).respond(
        400,
        json={
            "error": {
                "message": "This model's maximum context length is 128000 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        },
    )
    with pytest.raises(UpstreamBadRequestError) as info:
        await ADAPTERS["openai"].chat(req(), target)
    assert info.value.status == 400 and "maximum context length" in info.value.message


async def test_upstream_429_and_503(target, upstream):
    route = upstream.post(CHAT)
    route.respond(429, headers={"retry-after": "3"}, json={"error": {"message": "Rate limit reached"}})
    route.respond(503, text="upstream connect error")

    with pytest.raises(UpstreamRateLimitError) as info:
        await ADAPTERS["openai"].chat(req(), target)
    assert info.value.status == 429 and info.value.headers["Retry-After"] == "3"

    with pytest.raises(UpstreamUnavailableError):
        await ADAPTERS["openai"].chat(req(), target)
    assert len(route.calls) == 2


async def test_streaming_error_before_first_chunk(target, upstream):
    upstream.post(CHAT).respond(500, json={"error": {"message": "The server had an error"}})
    with pytest.raises(UpstreamError) as info:
        await collect(ADAPTERS["openai"].chat_stream(req(stream=True), target))
    assert info.value.status == 502


async def test_error_event_inside_stream(target, upstream):
    upstream.post(CHAT).respond(
        200,
        chunks=[
            sse(chunk({"content": "Hi"})),
            b'data: {"error": {"message": "The model is overloaded", "type": "server_error"}}\n\n',
        ],
    )
    with pytest.raises(UpstreamError) as info:
        await collect(ADAPTERS["openai"].chat_stream(req(stream=True), target))
    assert "overloaded" in info.value.message


async def test_timeout_and_connection_failure(make_target, upstream):
    # An upstream slower to answer than the target's first-byte timeout: a 504.
    slow = make_target(
        "openai", base_url=upstream.url + "/v1", upstream_model="gpt-4o", api_key=KEY, first_byte_timeout=0.1
    )
    upstream.post(CHAT).respond(200, json=COMPLETION, before=2)
    with pytest.raises(UpstreamTimeoutError) as info:
        await ADAPTERS["openai"].chat(req(), slow)
    assert info.value.status == 504

    # Nothing listens on the port (connection refused): a 502 that names neither host nor key.
    closed = make_target("openai", base_url="http://127.0.0.1:9/v1", upstream_model="gpt-4o", api_key=KEY)
    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["openai"].chat(req(), closed)
    assert info.value.status == 502
    assert "127.0.0.1" not in info.value.message and KEY not in info.value.message


async def test_invalid_json_answer_is_a_502(target, upstream):
    upstream.post(CHAT).respond(200, text="<html>oops</html>")
    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["openai"].chat(req(), target)
    assert info.value.status == 502


async def test_embeddings(make_target, upstream):
    target = make_target("openai", base_url=upstream.url + "/v1", upstream_model="text-embedding-3-small", api_key=KEY)
    route = upstream.post("/v1/embeddings").respond(
        200,
        json={
            "object": "list",
            "data": [
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]},
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
            ],
            "model": "text-embedding-3-small",
            "usage": {"prompt_tokens": 5, "total_tokens": 5},
        },
    )
    resp = await ADAPTERS["openai"].embed(EmbeddingRequest("alias", ["a", "b"], dimensions=2), target)

    assert route.last.json() == {
        "model": "text-embedding-3-small",
        "input": ["a", "b"],
        "encoding_format": "float",
        "dimensions": 2,
    }
    assert resp.data == [[0.1, 0.2], [0.3, 0.4]] and resp.usage.prompt_tokens == 5
