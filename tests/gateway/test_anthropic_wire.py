"""The Anthropic Messages shape, both ways: /v1/messages in and out, and requests/answers of Anthropic upstreams."""

from __future__ import annotations

import orjson
import pytest
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent
from pydantic import TypeAdapter

from gateway.errors import BadRequestError, UpstreamUnavailableError
from gateway.normal import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Choice,
    ImagePart,
    Message,
    ResponseFormat,
    TextPart,
    Tool,
    ToolCall,
    ToolCallDelta,
    ToolChoice,
    Usage,
)
from gateway.wire.anthropic import StreamWriter, parse_messages_request, render_error, render_message
from gateway.wire.anthropic_upstream import (
    AnthropicStreamError,
    StreamReader,
    chat_response_from_message,
    request_from_chat,
)

EVENT = TypeAdapter(RawMessageStreamEvent)


def events_of(raw: bytes) -> list[tuple[str, dict]]:
    out = []
    for block in raw.decode().split("\n\n"):
        if block:
            head, data = block.split("\n")
            out.append((head.removeprefix("event: "), orjson.loads(data.removeprefix("data: "))))
    return out


@pytest.mark.smoke
def test_messages_request_becomes_normal_form():
    req = parse_messages_request(
        orjson.dumps(
            {
                "model": "claude-sonnet",
                "max_tokens": 256,
                "system": [{"type": "text", "text": "You are terse."}],
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Weather?"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}},
                        ],
                    },
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "text", "text": "Checking."},
                            {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
                        ],
                    },
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "12C"},
                            {"type": "text", "text": "Thanks"},
                        ],
                    },
                ],
                "tools": [{"name": "weather", "description": "w", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
                "stop_sequences": ["END"],
                "temperature": 0.5,
                "metadata": {"user_id": "u-7"},
                "top_k": 5,
                "stream": True,
            }
        )
    )
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "tool", "user"]
    assert req.messages[0].content == "You are terse."
    assert isinstance(req.messages[1].content[1], ImagePart)
    assert req.messages[1].content[1].url == "data:image/png;base64,AAAA"
    assert req.messages[2].tool_calls == [ToolCall("toolu_1", "weather", '{"city":"Oslo"}')]
    assert req.messages[3].tool_call_id == "toolu_1" and req.messages[3].content == "12C"
    assert req.tool_choice.mode == "required" and req.parallel_tool_calls is False
    assert req.max_tokens == 256 and req.stop == ["END"] and req.user == "u-7" and req.stream
    assert req.extra == {"top_k": 5} and req.extra_format == "anthropic"


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"max_tokens": None}, "max_tokens"),
        ({"messages": None}, "messages"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "system", "content": "x"}]}, "messages[0].role"),
        ({"temperature": 2}, "temperature"),
    ],
)
def test_bad_messages_request_names_the_param(fields, param):
    data = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}], **fields}
    with pytest.raises(BadRequestError) as info:
        parse_messages_request(orjson.dumps({k: v for k, v in data.items() if v is not None}))
    assert info.value.param == param


@pytest.mark.smoke
def test_response_renders_as_anthropic_message():
    resp = ChatResponse(
        "chatcmpl-abc",
        "claude-x",
        [
            Choice(
                0,
                Message("assistant", "Let me check.", tool_calls=[ToolCall("call_1", "weather", '{"city":"Oslo"}')]),
                "tool_calls",
            )
        ],
        Usage.of(20, 9),
    )
    data = orjson.loads(render_message(resp))

    msg = AnthropicMessage.model_validate(data)
    assert msg.id.startswith("msg_") and msg.stop_reason == "tool_use"
    assert data["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {"city": "Oslo"}},
    ]
    assert data["usage"] == {"input_tokens": 20, "output_tokens": 9}


def test_stream_of_chunks_renders_as_anthropic_events():
    writer = StreamWriter(model="claude-x")
    raw = writer.start(input_tokens=11)
    for chunk in [
        ChatChunk("c", "m", role="assistant", content=""),
        ChatChunk("c", "m", content="Hi"),
        ChatChunk("c", "m", content=" there"),
        ChatChunk("c", "m", tool_calls=[ToolCallDelta(0, "call_1", "weather", "")]),
        ChatChunk("c", "m", tool_calls=[ToolCallDelta(0, arguments='{"city":')]),
        ChatChunk("c", "m", tool_calls=[ToolCallDelta(0, arguments='"Oslo"}')]),
        ChatChunk("c", "m", finish_reason="tool_calls"),
        ChatChunk("c", "m", usage=Usage.of(11, 7)),
    ]:
        raw += writer.feed(chunk)
    raw += writer.finish()

    events = events_of(raw)
    for name, data in events:
        assert name == data["type"]
        if name != "ping":
            EVENT.validate_python(data)
    assert [name for name, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[6][1]["content_block"] == {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
    assert events[7][1]["delta"] == {"type": "input_json_delta", "partial_json": '{"city":'}
    assert events[10][1]["delta"]["stop_reason"] == "tool_use"
    assert events[10][1]["usage"] == {"output_tokens": 7, "input_tokens": 11}


def test_error_in_anthropic_shape():
    data = orjson.loads(render_error(UpstreamUnavailableError("busy")))
    assert data == {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}


def test_request_to_anthropic_lifts_system_and_groups_tool_results():
    req = ChatRequest(
        model="alias",
        messages=[
            Message("system", "Be terse."),
            Message(
                "user", [TextPart("Look"), ImagePart("data:image/jpeg;base64,/9j/"), ImagePart("https://x.test/a.png")]
            ),
            Message("assistant", None, tool_calls=[ToolCall("call_1", "a", "{}"), ToolCall("call_2", "b", '{"x":1}')]),
            Message("tool", "one", tool_call_id="call_1"),
            Message("tool", "two", tool_call_id="call_2"),
        ],
        temperature=1.7,
        stop=["END"],
        tools=[Tool("a", "tool a", {"type": "object"}), Tool("b")],
        tool_choice=ToolChoice("function", "b"),
        parallel_tool_calls=False,
        response_format=ResponseFormat("json_object"),
        user="u1",
    )
    body = request_from_chat(req, "claude-3-5-haiku", default_max_tokens=1000, stream=True)

    assert body["model"] == "claude-3-5-haiku" and body["max_tokens"] == 1000 and body["stream"] is True
    assert body["system"].startswith("Be terse.") and "JSON" in body["system"]
    assert body["temperature"] == 1.0
    assert body["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"},
    }
    assert body["messages"][0]["content"][2]["source"] == {"type": "url", "url": "https://x.test/a.png"}
    assert body["messages"][1]["content"][1] == {"type": "tool_use", "id": "call_2", "name": "b", "input": {"x": 1}}
    assert [b["tool_use_id"] for b in body["messages"][2]["content"]] == ["call_1", "call_2"]
    assert body["tools"][1]["input_schema"] == {"type": "object", "properties": {}}
    assert body["tool_choice"] == {"type": "tool", "name": "b", "disable_parallel_tool_use": True}
    assert body["stop_sequences"] == ["END"] and body["metadata"] == {"user_id": "u1"}


def test_n_above_one_is_refused_for_anthropic():
    with pytest.raises(BadRequestError) as info:
        request_from_chat(ChatRequest("m", [Message("user", "hi")], n=2), "claude")
    assert info.value.param == "n"


def test_anthropic_answer_becomes_normal_form():
    resp = chat_response_from_message(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [
                {"type": "thinking", "thinking": "hmm", "signature": "x"},
                {"type": "text", "text": "Sure."},
                {"type": "tool_use", "id": "toolu_01", "name": "weather", "input": {"city": "Oslo"}},
            ],
            "stop_reason": "tool_use",
            "stop_sequence": None,
            "usage": {"input_tokens": 30, "output_tokens": 12, "cache_read_input_tokens": 5},
        }
    )
    choice = resp.choices[0]
    assert choice.message.content == "Sure." and choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls == [ToolCall("toolu_01", "weather", '{"city":"Oslo"}')]
    assert resp.usage == Usage(35, 12, 47, "provider")


def test_stream_reader_error_event_raises():
    with pytest.raises(AnthropicStreamError) as info:
        StreamReader().feed({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    assert info.value.status == 529
