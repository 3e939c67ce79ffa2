"""A legacy completions body becomes a one-message chat request (or a 400 naming the parameter), and a chat
answer is rendered as OpenAI's ``text_completion`` object and stream events."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from openai.types import Completion

from gateway.errors import BadRequestError, UpstreamUnavailableError
from gateway.normal import ChatChunk, ChatResponse, Choice, Message, Usage
from gateway.pipeline.call import CompletionFormat
from gateway.wire.completions import (
    parse_completion_request,
    render_completion,
    render_completion_chunk,
)


def body(**fields) -> bytes:
    data = {"model": "fast-chat", "prompt": "Say hi"}
    data.update(fields)
    return orjson.dumps({k: v for k, v in data.items() if v is not ...})


def bad(raw: bytes) -> BadRequestError:
    with pytest.raises(BadRequestError) as info:
        parse_completion_request(raw)
    assert info.value.status == 400
    return info.value


def events(raw: bytes) -> list[dict]:
    return [orjson.loads(line.removeprefix(b"data: ")) for line in raw.split(b"\n\n") if line]


def test_the_prompt_becomes_one_user_message_with_the_sampling_params():
    req = parse_completion_request(body(
        temperature=0.2, top_p=0.9, max_tokens=50, n=2, stop="\n", seed=7, presence_penalty=0.5,
        frequency_penalty=-0.5, user="u-1", stream=True, stream_options={"include_usage": True},
    ))
    assert [(m.role, m.content) for m in req.messages] == [("user", "Say hi")]
    assert (req.model, req.temperature, req.top_p, req.max_tokens, req.n) == ("fast-chat", 0.2, 0.9, 50, 2)
    assert (req.stop, req.seed, req.presence_penalty, req.frequency_penalty) == (["\n"], 7, 0.5, -0.5)
    assert (req.user, req.stream, req.include_usage) == ("u-1", True, True)


def test_max_tokens_defaults_to_16_as_on_openai():
    assert parse_completion_request(body()).max_tokens == 16


def test_a_list_of_one_prompt_is_that_prompt():
    assert parse_completion_request(body(prompt=["Say hi"])).messages[0].content == "Say hi"


def test_best_of_equal_to_n_and_an_empty_suffix_are_honoured_as_they_are():
    req = parse_completion_request(body(best_of=3, n=3, suffix="", echo=False))
    assert req.n == 3


def test_chat_fields_the_parser_does_not_model_are_passed_through():
    assert parse_completion_request(body(logit_bias={"50256": -100})).extra == {"logit_bias": {"50256": -100}}


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": ...}, "prompt"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": ""}, "prompt"),
        ({"prompt": []}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": [[1, 2], [3]]}, "prompt"),
        ({"prompt": ["one", "two"]}, "prompt"),
        ({"model": ...}, "model"),
        ({"model": ""}, "model"),
        ({"suffix": "end"}, "suffix"),
        ({"echo": True}, "echo"),
        ({"echo": "yes"}, "echo"),
        ({"logprobs": 2}, "logprobs"),
        ({"best_of": 2}, "best_of"),
        ({"best_of": 1, "n": 2}, "best_of"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": "16"}, "max_tokens"),
        ({"temperature": 3}, "temperature"),
        ({"top_p": -0.1}, "top_p"),
        ({"n": 0}, "n"),
        ({"stop": 5}, "stop"),
        ({"presence_penalty": 2.5}, "presence_penalty"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"stream": True, "stream_options": {"include_usage": "yes"}}, "stream_options.include_usage"),
    ],
)
def test_bad_or_unsupported_input_is_a_400_naming_the_param(fields, param):
    assert bad(body(**fields)).param == param


def test_more_than_one_prompt_says_to_send_one_per_request():
    error = bad(body(prompt=["one", "two"]))
    assert error.code == "unsupported_parameter"
    assert "one prompt per request" in error.message


def test_invalid_json_is_a_400():
    assert bad(b"{not json").code == "invalid_json"


def answer(**fields) -> ChatResponse:
    return ChatResponse(
        id="chatcmpl-abc", model="fast-chat", created=1_700_000_000, usage=Usage.of(5, 3),
        choices=[Choice(0, Message("assistant", "Hello there"), "length"), Choice(1, Message("assistant", "Hi"))],
        **fields,
    )


def test_an_answer_is_a_text_completion_the_sdk_accepts_strictly():
    rendered = orjson.loads(render_completion(answer()))
    completion = Completion.model_validate(rendered, strict=True)
    assert (completion.id, completion.object, completion.model) == ("cmpl-abc", "text_completion", "fast-chat")
    assert [(c.index, c.text, c.finish_reason) for c in completion.choices] == [(0, "Hello there", "length"),
                                                                               (1, "Hi", "stop")]
    assert rendered["choices"][0]["logprobs"] is None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (5, 3, 8)


def chunk(**fields) -> ChatChunk:
    return ChatChunk(id="chatcmpl-abc", model="fast-chat", created=1_700_000_000, **fields)


def test_a_text_chunk_is_a_text_completion_event_with_finish_reason_null_until_the_end():
    [event] = events(render_completion_chunk(chunk(content="Hel")))
    assert event["object"] == "text_completion"
    assert event["id"] == "cmpl-abc"
    assert event["choices"] == [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}]
    assert "usage" not in event
    [last] = events(render_completion_chunk(chunk(finish_reason="stop")))
    Completion.model_validate(last, strict=True)
    assert last["choices"][0]["text"] == ""


def test_a_role_only_chunk_sends_nothing():
    assert render_completion_chunk(chunk(role="assistant", content="")) == b""


def test_with_include_usage_the_last_chunk_adds_the_usage_event():
    text, final = events(render_completion_chunk(chunk(content="!", finish_reason="stop", usage=Usage.of(5, 3)),
                                                 include_usage=True))
    assert text["usage"] is None
    Completion.model_validate(final, strict=True)
    assert final["choices"] == []
    assert final["usage"] == {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}


def test_without_include_usage_no_usage_is_sent():
    [event] = events(render_completion_chunk(chunk(content="!", finish_reason="stop", usage=Usage.of(5, 3))))
    assert "usage" not in event


def test_the_stream_format_ends_with_done_and_reports_errors_as_openai_events():
    fmt = CompletionFormat(None, parse_completion_request(body(stream=True)))  # type: ignore[arg-type]
    assert fmt.opening() == b""
    assert asyncio.run(fmt.closing()) == b"data: [DONE]\n\n"
    [error] = events(fmt.error(UpstreamUnavailableError("gone", headers={})))
    assert error["error"]["message"] == "gone"
