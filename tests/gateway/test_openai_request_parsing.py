"""An OpenAI chat-completions or embeddings body becomes the normal form, or a 400 naming the parameter."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import BadRequestError
from gateway.normal import ImagePart, TextPart
from gateway.wire.openai import parse_chat_request, parse_embedding_request


def body(**fields) -> bytes:
    data = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
    data.update(fields)
    return orjson.dumps({k: v for k, v in data.items() if v is not ...})


def bad(raw: bytes) -> BadRequestError:
    with pytest.raises(BadRequestError) as info:
        parse_chat_request(raw)
    assert info.value.status == 400
    return info.value


@pytest.mark.smoke
def test_full_request_is_parsed():
    req = parse_chat_request(
        body(
            messages=[
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {
                            "type": "image_url",
                            "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
                        },
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "look", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
            ],
            temperature=0.2,
            top_p=0.9,
            max_completion_tokens=50,
            stop="\n\n",
            n=2,
            seed=7,
            tools=[
                {"type": "function", "function": {"name": "look", "parameters": {"type": "object", "properties": {}}}}
            ],
            tool_choice={"type": "function", "function": {"name": "look"}},
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}},
            user="u-1",
            stream=True,
            stream_options={"include_usage": True},
            logit_bias={"50256": -100},
        )
    )
    assert [m.role for m in req.messages] == ["system", "user", "assistant", "tool"]
    parts = req.messages[1].content
    assert isinstance(parts[0], TextPart) and isinstance(parts[1], ImagePart)
    assert parts[1].inline_data() == ("image/png", "iVBORw0KGgo=") and parts[1].detail == "low"
    assert req.messages[2].tool_calls[0].name == "look"
    assert req.messages[3].tool_call_id == "call_1"
    assert (req.temperature, req.top_p, req.max_tokens, req.max_tokens_field) == (0.2, 0.9, 50, "max_completion_tokens")
    assert req.stop == ["\n\n"] and req.n == 2 and req.seed == 7
    assert req.tool_choice.mode == "function" and req.tool_choice.name == "look"
    assert req.response_format.type == "json_schema"
    assert req.stream and req.include_usage and req.user == "u-1"
    assert req.extra == {"logit_bias": {"50256": -100}}


@pytest.mark.smoke
def test_missing_messages_names_the_param():
    err = bad(body(messages=...))
    assert err.param == "messages" and err.code == "missing_required_parameter"


def test_empty_messages_is_refused():
    err = bad(body(messages=[]))
    assert err.param == "messages" and err.code == "empty_array"


def test_missing_model_is_refused():
    assert bad(body(model=...)).param == "model"


@pytest.mark.parametrize(
    ("field", "value", "param"),
    [
        ("temperature", "hot", "temperature"),
        ("temperature", 3, "temperature"),
        ("top_p", 1.5, "top_p"),
        ("max_tokens", "10", "max_tokens"),
        ("max_tokens", True, "max_tokens"),
        ("max_tokens", 0, "max_tokens"),
        ("n", 1.5, "n"),
        ("stop", 5, "stop"),
        ("stream", "yes", "stream"),
        ("tools", {"name": "x"}, "tools"),
        ("tool_choice", "sometimes", "tool_choice"),
        ("response_format", {"type": "yaml"}, "response_format.type"),
        ("user", 12, "user"),
        ("messages", "hello", "messages"),
    ],
)
def test_wrong_types_and_values_name_the_param(field, value, param):
    err = bad(body(**{field: value}))
    assert err.param == param


@pytest.mark.parametrize(
    ("message", "param"),
    [
        ("hello", "messages[0]"),
        ({"content": "x"}, "messages[0].role"),
        ({"role": "wizard", "content": "x"}, "messages[0].role"),
        ({"role": "user"}, "messages[0].content"),
        ({"role": "user", "content": 5}, "messages[0].content"),
        ({"role": "user", "content": [{"type": "audio", "x": 1}]}, "messages[0].content[0].type"),
        ({"role": "user", "content": [{"type": "text"}]}, "messages[0].content[0].text"),
        ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
    ],
)
def test_bad_messages_name_the_message(message, param):
    assert bad(body(messages=[message])).param == param


def test_stream_options_without_stream_is_refused():
    assert bad(body(stream_options={"include_usage": True})).param == "stream_options"


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b""])
def test_invalid_json_utf8_or_shape_is_a_400(raw):
    err = bad(raw)
    assert err.code == "invalid_json"


def test_unknown_fields_pass_through_as_extra():
    req = parse_chat_request(body(reasoning_effort="low", metadata={"a": "b"}))
    assert req.extra == {"reasoning_effort": "low", "metadata": {"a": "b"}}
    assert req.extra_format == "openai"


def test_embeddings_request_accepts_string_list_and_token_inputs():
    assert parse_embedding_request(b'{"model":"e","input":"hi"}').input == ["hi"]
    assert parse_embedding_request(b'{"model":"e","input":["a","b"]}').input == ["a", "b"]
    assert parse_embedding_request(b'{"model":"e","input":[1,2,3]}').input == [[1, 2, 3]]
    req = parse_embedding_request(b'{"model":"e","input":[[1],[2,3]],"encoding_format":"base64","dimensions":8}')
    assert req.input == [[1], [2, 3]] and req.encoding_format == "base64" and req.dimensions == 8


@pytest.mark.parametrize(
    ("raw", "param"),
    [
        (b'{"model":"e"}', "input"),
        (b'{"model":"e","input":[]}', "input"),
        (b'{"model":"e","input":""}', "input"),
        (b'{"model":"e","input":{"a":1}}', "input"),
        (b'{"model":"e","input":"x","encoding_format":"int8"}', "encoding_format"),
        (b'{"input":"x"}', "model"),
    ],
)
def test_bad_embeddings_request_names_the_param(raw, param):
    with pytest.raises(BadRequestError) as info:
        parse_embedding_request(raw)
    assert info.value.param == param
