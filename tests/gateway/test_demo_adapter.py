"""The demo model answers locally, deterministically, streams piece by piece, calls tools, embeds, counts usage."""

from __future__ import annotations

import math

import orjson
import pytest

from gateway.normal import ChatRequest, EmbeddingRequest, Message, ResponseFormat, Tool, ToolCall, ToolChoice
from gateway.providers import ADAPTERS
from gateway.providers.base import UpstreamTarget
from tests.gateway.streams import collect

DEMO = ADAPTERS["demo"]
TARGET = UpstreamTarget("demo", upstream_model="demo")


def req(text="What is Switchboard?", **kw) -> ChatRequest:
    return ChatRequest("demo", [Message("user", text)], **kw)


@pytest.mark.smoke
async def test_answer_is_deterministic_and_derived_from_the_prompt():
    first = await DEMO.chat(req(), TARGET)
    second = await DEMO.chat(req(), TARGET)
    other = await DEMO.chat(req("Something else"), TARGET)

    assert first.choices[0].message.content == second.choices[0].message.content
    assert "What is Switchboard?" in first.choices[0].message.content
    assert other.choices[0].message.content != first.choices[0].message.content
    assert first.usage.source == "tokenizer" and first.usage.completion_tokens > 0 and first.usage.prompt_tokens > 0


@pytest.mark.smoke
async def test_stream_is_piece_by_piece_and_matches_the_whole_answer():
    whole = await DEMO.chat(req(), TARGET)
    chunks = await collect(DEMO.chat_stream(req(stream=True), TARGET))

    texts = [c.content for c in chunks if c.content]
    assert len(texts) > 3
    assert "".join(texts) == whole.choices[0].message.content
    assert chunks[0].role == "assistant"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage == whole.usage


async def test_max_tokens_stop_and_n():
    short = await DEMO.chat(req(max_tokens=3), TARGET)
    assert short.choices[0].finish_reason == "length" and len(short.choices[0].message.content.split()) == 3

    stopped = await DEMO.chat(req(stop=["You said"]), TARGET)
    assert "You said" not in stopped.choices[0].message.content

    many = await DEMO.chat(req(n=3), TARGET)
    assert [c.index for c in many.choices] == [0, 1, 2]
    assert len({c.message.content for c in many.choices}) == 3


async def test_tools_are_called_with_arguments_that_fit_the_schema():
    weather = Tool(
        "get_weather",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "unit": {"type": "string", "enum": ["c", "f"]},
                "days": {"type": "integer"},
            },
            "required": ["city", "unit"],
        },
    )
    resp = await DEMO.chat(req("Weather in Oslo?", tools=[weather]), TARGET)

    choice = resp.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    call = choice.message.tool_calls[0]
    assert call.name == "get_weather" and orjson.loads(call.arguments) == {"city": "Weather in Oslo?", "unit": "c"}

    chunks = await collect(DEMO.chat_stream(req("Weather in Oslo?", tools=[weather]), TARGET))
    deltas = [tc for c in chunks for tc in c.tool_calls or ()]
    assert deltas[0].id == call.id and "".join(d.arguments for d in deltas) == call.arguments


async def test_after_a_tool_result_it_answers_and_tool_choice_none_is_respected():
    tool = Tool("lookup")
    follow_up = ChatRequest(
        "demo",
        [
            Message("user", "Look it up"),
            Message("assistant", None, tool_calls=[ToolCall("call_1", "lookup", "{}")]),
            Message("tool", "42", tool_call_id="call_1"),
        ],
        tools=[tool],
    )
    resp = await DEMO.chat(follow_up, TARGET)
    assert resp.choices[0].message.content == "The tool returned: 42"

    none = await DEMO.chat(req(tools=[tool], tool_choice=ToolChoice("none")), TARGET)
    assert none.choices[0].message.tool_calls is None


async def test_json_response_format():
    resp = await DEMO.chat(req(response_format=ResponseFormat("json_object")), TARGET)
    assert orjson.loads(resp.choices[0].message.content)["model"] == "demo"


async def test_embeddings_are_deterministic_unit_vectors():
    resp = await DEMO.embed(EmbeddingRequest("demo", ["a", "b", "a"], dimensions=64), TARGET)

    assert len(resp.data) == 3 and all(len(v) == 64 for v in resp.data)
    assert resp.data[0] == resp.data[2] and resp.data[0] != resp.data[1]
    assert math.isclose(sum(x * x for x in resp.data[1]), 1.0, rel_tol=1e-9)
    assert resp.usage.prompt_tokens == 3 and resp.usage.completion_tokens == 0
