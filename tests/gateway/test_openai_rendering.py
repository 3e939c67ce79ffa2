"""Answers are rendered as OpenAI sends them: chat.completion JSON, SSE chunks, usage chunk, [DONE], embeddings."""

from __future__ import annotations

import base64
import struct

import orjson
import pytest
from openai.types import CreateEmbeddingResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.errors import UpstreamUnavailableError
from gateway.normal import (
    ChatChunk,
    ChatResponse,
    Choice,
    EmbeddingResponse,
    Message,
    ToolCall,
    ToolCallDelta,
    Usage,
)
from gateway.wire.openai import (
    SSE_DONE,
    render_chat_chunk,
    render_chat_response,
    render_embeddings,
    render_stream_error,
)


@pytest.mark.smoke
def test_chat_response_is_a_valid_chat_completion():
    resp = ChatResponse(
        id="chatcmpl-1",
        model="gpt-4o-mini",
        created=1700000000,
        choices=[
            Choice(0, Message("assistant", "Hello!"), "stop"),
            Choice(
                1,
                Message("assistant", None, tool_calls=[ToolCall("call_9", "get_weather", '{"city":"Oslo"}')]),
                "tool_calls",
            ),
        ],
        usage=Usage.of(12, 5, "tokenizer"),
    )
    data = orjson.loads(render_chat_response(resp))

    parsed = ChatCompletion.model_validate(data)
    assert data["object"] == "chat.completion"
    assert parsed.choices[0].message.content == "Hello!"
    assert parsed.choices[1].message.tool_calls[0].function.arguments == '{"city":"Oslo"}'
    assert data["usage"] == {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17}


@pytest.mark.smoke
def test_chunk_is_one_sse_event():
    raw = render_chat_chunk(ChatChunk("chatcmpl-1", "m", 1700000000, content="Hel"))

    assert raw.startswith(b"data: {") and raw.endswith(b"}\n\n") and raw.count(b"\n\n") == 1
    data = orjson.loads(raw[6:])
    ChatCompletionChunk.model_validate(data)
    assert data["object"] == "chat.completion.chunk"
    assert data["choices"] == [{"index": 0, "delta": {"content": "Hel"}, "logprobs": None, "finish_reason": None}]
    assert "usage" not in data


def test_include_usage_adds_null_usage_and_a_final_usage_event():
    assert b'"usage":null' in render_chat_chunk(ChatChunk("c", "m", 1, content="x"), include_usage=True)

    raw = render_chat_chunk(ChatChunk("c", "m", 1, usage=Usage.of(3, 4)), include_usage=True)
    data = orjson.loads(raw[6:])
    ChatCompletionChunk.model_validate(data)
    assert data["choices"] == [] and data["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def test_usage_is_not_sent_unless_asked():
    assert render_chat_chunk(ChatChunk("c", "m", 1, usage=Usage.of(3, 4))) == b""


def test_finish_chunk_has_empty_delta():
    data = orjson.loads(render_chat_chunk(ChatChunk("c", "m", 1, finish_reason="stop"))[6:])
    assert data["choices"][0]["delta"] == {} and data["choices"][0]["finish_reason"] == "stop"


def test_tool_call_deltas_as_openai_streams_them():
    first = orjson.loads(
        render_chat_chunk(ChatChunk("c", "m", 1, tool_calls=[ToolCallDelta(0, "call_1", "f", "")]))[6:]
    )
    more = orjson.loads(render_chat_chunk(ChatChunk("c", "m", 1, tool_calls=[ToolCallDelta(0, arguments='{"a"')]))[6:])

    ChatCompletionChunk.model_validate(first)
    ChatCompletionChunk.model_validate(more)
    assert first["choices"][0]["delta"]["tool_calls"] == [
        {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    ]
    assert more["choices"][0]["delta"]["tool_calls"] == [{"index": 0, "function": {"arguments": '{"a"'}}]


def test_done_and_stream_error_events():
    assert SSE_DONE == b"data: [DONE]\n\n"
    raw = render_stream_error(UpstreamUnavailableError("overloaded"))
    assert raw.startswith(b"data: ") and orjson.loads(raw[6:])["error"]["code"] == "upstream_unavailable"


def test_embeddings_float_and_base64():
    resp = EmbeddingResponse("text-embedding-3-small", [[0.5, -1.0], [0.25, 2.0]], Usage.of(4, 0))

    floats = orjson.loads(render_embeddings(resp))
    CreateEmbeddingResponse.model_validate(floats)
    assert floats["data"][1] == {"object": "embedding", "index": 1, "embedding": [0.25, 2.0]}
    assert floats["usage"] == {"prompt_tokens": 4, "total_tokens": 4}

    packed = orjson.loads(render_embeddings(resp, "base64"))["data"][0]["embedding"]
    assert list(struct.unpack("<2f", base64.b64decode(packed))) == [0.5, -1.0]
