"""The bedrock adapter: Converse via botocore's Stubber, ConverseStream at the event-parsing boundary."""

from __future__ import annotations

import io
import threading

import orjson
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from gateway.errors import UpstreamBadRequestError, UpstreamError, UpstreamRateLimitError, UpstreamUnavailableError
from gateway.normal import ChatRequest, EmbeddingRequest, ImagePart, Message, TextPart, Tool, ToolCall
from gateway.providers import ADAPTERS, aws, bedrock
from gateway.wire.bedrock import converse_kwargs
from tests.gateway.streams import collect

MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
CREDS = orjson.dumps(
    {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
).decode()


@pytest.fixture
def target(make_target):
    return make_target("bedrock", upstream_model=MODEL, region="eu-west-1", api_key=CREDS)


@pytest.fixture
def stub(target):
    client = aws.client_for("bedrock-runtime", target)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def converse_answer(content, stop="end_turn"):
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop,
        "usage": {"inputTokens": 25, "outputTokens": 8, "totalTokens": 33},
        "metrics": {"latencyMs": 412},
    }


@pytest.mark.smoke
async def test_converse_translates_both_ways(target, stub):
    stub.add_response(
        "converse",
        converse_answer([{"text": "Hello from Bedrock."}]),
        {
            "modelId": MODEL,
            "system": [{"text": "Be brief."}],
            "messages": [{"role": "user", "content": [{"text": "Hi"}]}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.2},
        },
    )
    req = ChatRequest("alias", [Message("system", "Be brief."), Message("user", "Hi")], max_tokens=50, temperature=0.2)

    resp = await ADAPTERS["bedrock"].chat(req, target)

    assert resp.choices[0].message.content == "Hello from Bedrock." and resp.choices[0].finish_reason == "stop"
    assert resp.usage.prompt_tokens == 25 and resp.usage.completion_tokens == 8 and resp.usage.source == "provider"


async def test_converse_runs_off_the_event_loop_thread(target, stub):
    threads = []
    stub.client.meta.events.register(
        "provide-client-params.bedrock-runtime.Converse", lambda **kw: threads.append(threading.get_ident())
    )
    stub.add_response("converse", converse_answer([{"text": "ok"}]), None)

    await ADAPTERS["bedrock"].chat(ChatRequest("alias", [Message("user", "Hi")]), target)

    assert threads and threads[0] != threading.get_ident()


async def test_tool_use_round_trip(target, stub):
    stub.add_response(
        "converse",
        converse_answer(
            [
                {
                    "toolUse": {
                        "toolUseId": "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q",
                        "name": "top_song",
                        "input": {"sign": "WZPZ"},
                    }
                }
            ],
            "tool_use",
        ),
        {
            "modelId": MODEL,
            "messages": [
                {"role": "user", "content": [{"text": "Top song?"}]},
                {
                    "role": "assistant",
                    "content": [{"toolUse": {"toolUseId": "t0", "name": "top_song", "input": {"sign": "WABC"}}}],
                },
                {
                    "role": "user",
                    "content": [
                        {"toolResult": {"toolUseId": "t0", "content": [{"text": "Elemental Hotel"}]}},
                        {"text": "And WZPZ?"},
                    ],
                },
            ],
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "top_song",
                            "description": "Top song",
                            "inputSchema": {"json": {"type": "object", "properties": {"sign": {"type": "string"}}}},
                        }
                    }
                ]
            },
        },
    )
    req = ChatRequest(
        "alias",
        [
            Message("user", "Top song?"),
            Message("assistant", None, tool_calls=[ToolCall("t0", "top_song", '{"sign":"WABC"}')]),
            Message("tool", "Elemental Hotel", tool_call_id="t0"),
            Message("user", "And WZPZ?"),
        ],
        tools=[Tool("top_song", "Top song", {"type": "object", "properties": {"sign": {"type": "string"}}})],
    )
    resp = await ADAPTERS["bedrock"].chat(req, target)

    call = resp.choices[0].message.tool_calls[0]
    assert call.id == "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q" and orjson.loads(call.arguments) == {"sign": "WZPZ"}
    assert resp.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize(
    ("code", "status", "cls"),
    [
        ("ThrottlingException", 429, UpstreamRateLimitError),
        ("ValidationException", 400, UpstreamBadRequestError),
        ("AccessDeniedException", 403, UpstreamError),
        ("ServiceUnavailableException", 503, UpstreamUnavailableError),
    ],
)
async def test_service_errors_map_to_gateway_errors(target, stub, code, status, cls):
    stub.add_client_error(
        "converse",
        service_error_code=code,
        service_message=f"{code} for key AKIAIOSFODNN7EXAMPLE",
        http_status_code=status,
    )
    with pytest.raises(cls) as info:
        await ADAPTERS["bedrock"].chat(ChatRequest("alias", [Message("user", "Hi")]), target)
    assert "AKIAIOSFODNN7EXAMPLE" not in info.value.message
    assert info.value.status == (502 if status == 403 else status)


async def test_bad_secret_is_a_configuration_error(make_target):
    target = make_target("bedrock", upstream_model=MODEL, region="eu-west-1", api_key="not-json")
    with pytest.raises(UpstreamError) as info:
        await ADAPTERS["bedrock"].chat(ChatRequest("alias", [Message("user", "Hi")]), target)
    assert info.value.code == "upstream_misconfigured" and "not-json" not in info.value.message


def test_images_go_inline_as_bytes_and_urls_are_refused():
    req = ChatRequest("a", [Message("user", [TextPart("see"), ImagePart("data:image/png;base64,iVBORw0KGgo=")])])
    block = converse_kwargs(req, MODEL)["messages"][0]["content"][1]
    assert block == {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n\x1a\n"}}}

    from gateway.errors import BadRequestError

    with pytest.raises(BadRequestError):
        converse_kwargs(ChatRequest("a", [Message("user", [ImagePart("https://x.test/cat.png")])]), MODEL)


CONVERSE_STREAM_EVENTS = [
    {"messageStart": {"role": "assistant"}},
    {"contentBlockDelta": {"delta": {"text": "Let me"}, "contentBlockIndex": 0}},
    {"contentBlockDelta": {"delta": {"text": " look."}, "contentBlockIndex": 0}},
    {"contentBlockStop": {"contentBlockIndex": 0}},
    {
        "contentBlockStart": {
            "start": {"toolUse": {"toolUseId": "tooluse_abc", "name": "top_song"}},
            "contentBlockIndex": 1,
        }
    },
    {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"sign": '}}, "contentBlockIndex": 1}},
    {"contentBlockDelta": {"delta": {"toolUse": {"input": '"WZPZ"}'}}, "contentBlockIndex": 1}},
    {"contentBlockStop": {"contentBlockIndex": 1}},
    {"messageStop": {"stopReason": "tool_use"}},
    {
        "metadata": {
            "usage": {"inputTokens": 400, "outputTokens": 60, "totalTokens": 460},
            "metrics": {"latencyMs": 1200},
        }
    },
]


async def aiter(items):
    for item in items:
        yield item


async def test_converse_stream_events_become_chunks(target):
    req = ChatRequest("alias", [Message("user", "Top song?")])

    chunks = await collect(bedrock.stream_chunks(aiter(CONVERSE_STREAM_EVENTS), req, target))

    assert chunks[0].role == "assistant"
    assert "".join(c.content or "" for c in chunks) == "Let me look."
    calls = [tc for c in chunks for tc in c.tool_calls or ()]
    assert (calls[0].id, calls[0].name) == ("tooluse_abc", "top_song")
    assert "".join(tc.arguments for tc in calls) == '{"sign": "WZPZ"}'
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]
    assert chunks[-1].usage.prompt_tokens == 400 and chunks[-1].usage.source == "provider"


async def test_converse_stream_without_metadata_counts_usage(target):
    events = [e for e in CONVERSE_STREAM_EVENTS if "metadata" not in e]
    chunks = await collect(bedrock.stream_chunks(aiter(events), ChatRequest("alias", [Message("user", "Hi")]), target))
    assert chunks[-1].usage.source == "estimate" and chunks[-1].usage.completion_tokens > 0


async def test_converse_stream_exception_event(target):
    events = [CONVERSE_STREAM_EVENTS[0], {"throttlingException": {"message": "Too many requests"}}]
    with pytest.raises(UpstreamRateLimitError):
        await collect(bedrock.stream_chunks(aiter(events), ChatRequest("alias", [Message("user", "Hi")]), target))


async def test_titan_embeddings_through_invoke_model(target, stub, make_target):
    titan = make_target("bedrock", upstream_model="amazon.titan-embed-text-v2:0", region="eu-west-1", api_key=CREDS)
    client = aws.client_for("bedrock-runtime", titan)
    assert client is stub.client
    for vector, tokens in (([0.1, 0.2], 3), ([0.3, 0.4], 4)):
        payload = orjson.dumps({"embedding": vector, "inputTextTokenCount": tokens})
        stub.add_response(
            "invoke_model",
            {"body": StreamingBody(io.BytesIO(payload), len(payload)), "contentType": "application/json"},
            {
                "modelId": "amazon.titan-embed-text-v2:0",
                "body": ANY,
                "contentType": "application/json",
                "accept": "application/json",
            },
        )
    resp = await ADAPTERS["bedrock"].embed(EmbeddingRequest("alias", ["a", "b"]), titan)

    assert resp.data == [[0.1, 0.2], [0.3, 0.4]]
    assert resp.usage.prompt_tokens == 7 and resp.usage.source == "provider"


class FakeEventStream:
    """Stands in for boto3's EventStream, which Stubber cannot produce."""

    def __init__(self, events):
        self.events = events
        self.closed = False
        self.threads = set()

    def __iter__(self):
        for event in self.events:
            self.threads.add(threading.get_ident())
            yield event

    def close(self):
        self.closed = True


class FakeBedrockClient:
    def __init__(self, stream):
        self.stream = stream
        self.kwargs = None

    def converse_stream(self, **kwargs):
        self.kwargs = kwargs
        return {"stream": self.stream}


async def test_chat_stream_reads_the_event_stream_off_the_loop_and_closes_it(target, monkeypatch):
    stream = FakeEventStream(CONVERSE_STREAM_EVENTS)
    client = FakeBedrockClient(stream)

    async def fake_client(service, t):
        return client

    monkeypatch.setattr(aws, "aclient_for", fake_client)

    chunks = await collect(ADAPTERS["bedrock"].chat_stream(ChatRequest("alias", [Message("user", "Hi")]), target))

    assert client.kwargs["modelId"] == MODEL
    assert "".join(c.content or "" for c in chunks) == "Let me look."
    assert chunks[-1].usage.total_tokens == 460
    assert stream.closed and threading.get_ident() not in stream.threads


async def test_closing_the_stream_early_closes_the_event_stream(target, monkeypatch):
    stream = FakeEventStream(CONVERSE_STREAM_EVENTS)

    async def fake_client(service, t):
        return FakeBedrockClient(stream)

    monkeypatch.setattr(aws, "aclient_for", fake_client)
    chunks = ADAPTERS["bedrock"].chat_stream(ChatRequest("alias", [Message("user", "Hi")]), target)
    first = await anext(chunks)
    await chunks.aclose()

    assert first.role == "assistant" and stream.closed
