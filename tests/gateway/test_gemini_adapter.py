"""The gemini adapter against generateContent / streamGenerateContent (SSE) / batchEmbedContents."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import UpstreamError, UpstreamRateLimitError
from gateway.normal import ChatRequest, EmbeddingRequest, Message, ResponseFormat, Tool, ToolCall, ToolChoice
from gateway.providers import ADAPTERS
from tests.gateway.streams import collect, sse

KEY = "AIzaSyTESTKEY0123456789abcdefghijklmn"
MODEL = "gemini-2.0-flash"
GENERATE = f"/v1beta/models/{MODEL}:generateContent"


@pytest.fixture
def target(make_target, upstream):
    return make_target("gemini", base_url=upstream.url + "/v1beta", upstream_model=MODEL, api_key=KEY)


def answer(parts, finish="STOP", usage=True):
    out = {
        "candidates": [{"content": {"parts": parts, "role": "model"}, "finishReason": finish, "avgLogprobs": -0.1}],
        "modelVersion": "gemini-2.0-flash",
        "responseId": "resp-123",
    }
    if usage:
        out["usageMetadata"] = {"promptTokenCount": 11, "candidatesTokenCount": 6, "totalTokenCount": 17}
    return out


@pytest.mark.smoke
async def test_generate_content_translates_both_ways(target, upstream):
    route = upstream.post(GENERATE).respond(200, json=answer([{"text": "Bonjour"}, {"text": "!"}]))
    req = ChatRequest(
        model="alias",
        messages=[Message("system", "Be French."), Message("user", "Hello")],
        temperature=0.3,
        max_tokens=64,
        stop=["END"],
        response_format=ResponseFormat("json_schema", {"name": "x", "schema": {"type": "object"}}),
    )
    resp = await ADAPTERS["gemini"].chat(req, target)

    sent = route.last
    assert sent.headers["x-goog-api-key"] == KEY and "key" not in sent.query
    body = sent.json()
    assert body["systemInstruction"] == {"parts": [{"text": "Be French."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello"}]}]
    assert body["generationConfig"] == {
        "temperature": 0.3,
        "maxOutputTokens": 64,
        "stopSequences": ["END"],
        "responseMimeType": "application/json",
        "responseJsonSchema": {"type": "object"},
    }
    assert resp.choices[0].message.content == "Bonjour!" and resp.choices[0].finish_reason == "stop"
    assert resp.usage.total_tokens == 17 and resp.usage.source == "provider"


async def test_function_calls_and_results(target, upstream):
    route = upstream.post(GENERATE).respond(
        200, json=answer([{"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}])
    )
    req = ChatRequest(
        model="alias",
        messages=[
            Message("user", "Weather?"),
            Message("assistant", None, tool_calls=[ToolCall("call_a", "get_weather", '{"city":"Rome"}')]),
            Message("tool", '{"temp": 20}', tool_call_id="call_a"),
        ],
        tools=[Tool("get_weather", "w", {"type": "object", "properties": {"city": {"type": "string"}}})],
        tool_choice=ToolChoice("required"),
    )
    resp = await ADAPTERS["gemini"].chat(req, target)

    body = route.last.json()
    assert body["contents"][1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}}],
    }
    assert body["contents"][2]["parts"][0]["functionResponse"]["name"] == "get_weather"
    assert body["contents"][2]["parts"][0]["functionResponse"]["response"] == {"temp": 20}
    assert body["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]["properties"] == {
        "city": {"type": "string"}
    }
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    call = resp.choices[0].message.tool_calls[0]
    assert call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "Oslo"}
    assert resp.choices[0].finish_reason == "tool_calls"


async def test_stream_generate_content_sse(target, upstream):
    events = [
        answer([{"text": "Once upon"}], finish=None, usage=False),
        answer([{"text": " a time"}], finish=None, usage=False),
        answer([{"text": "."}], finish="STOP"),
    ]
    route = upstream.post(f"/v1beta/models/{MODEL}:streamGenerateContent").respond(
        200, chunks=[sse(event, crlf=True) for event in events]
    )

    chunks = await collect(ADAPTERS["gemini"].chat_stream(ChatRequest("alias", [Message("user", "Story")]), target))

    assert route.last.query["alt"] == "sse"
    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Once upon a time."
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage.total_tokens == 17


async def test_invalid_key_is_a_502_and_the_key_is_stripped(target, upstream):
    upstream.post(GENERATE).respond(
        400,
        json={
            "error": {
                "code": 400,
                "message": f"API key not valid. Please pass a valid API key. (key={KEY})",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                    }
                ],
            }
        },
    )
    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["gemini"].chat(ChatRequest("alias", [Message("user", "x")]), target)
    assert info.value.status == 502 and KEY not in info.value.message and "API key not valid" in info.value.message


async def test_quota_exhausted_is_a_429(target, upstream):
    upstream.post(GENERATE).respond(
        429,
        json={
            "error": {
                "code": 429,
                "message": "Resource has been exhausted (e.g. check quota).",
                "status": "RESOURCE_EXHAUSTED",
            }
        },
    )
    with pytest.raises(UpstreamRateLimitError):
        await ADAPTERS["gemini"].chat(ChatRequest("alias", [Message("user", "x")]), target)


async def test_batch_embeddings(make_target, upstream):
    target = make_target("gemini", base_url=upstream.url + "/v1beta", upstream_model="text-embedding-004", api_key=KEY)
    route = upstream.post("/v1beta/models/text-embedding-004:batchEmbedContents").respond(
        200, json={"embeddings": [{"values": [0.1, 0.2]}, {"values": [0.3, 0.4]}]}
    )
    resp = await ADAPTERS["gemini"].embed(EmbeddingRequest("alias", ["a", "b"], dimensions=2), target)

    body = route.last.json()
    assert body["requests"][0] == {
        "model": "models/text-embedding-004",
        "content": {"parts": [{"text": "a"}]},
        "outputDimensionality": 2,
    }
    assert resp.data == [[0.1, 0.2], [0.3, 0.4]] and resp.usage.source == "estimate"
