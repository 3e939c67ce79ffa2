"""The Responses API's wire format: what it accepts (and refuses by name), how it maps to chat, and the events
it writes — each event validated against the official SDK's types, whatever the chunks were."""

from __future__ import annotations

import orjson
import pydantic
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st
from openai.types.responses import Response, ResponseStreamEvent

from gateway.errors import GatewayError
from gateway.normal import ChatChunk, ChatResponse, Choice, Message, ToolCall, ToolCallDelta, Usage
from gateway.wire import responses as wire
from tests.gateway.test_wire_fuzz import FUZZ, json_values, translate_everywhere

STREAM_EVENT = pydantic.TypeAdapter(ResponseStreamEvent)


def parse(**body):
    return wire.parse_responses_request(orjson.dumps({"model": "m", **body}))


def chat_of(**body):
    return wire.to_chat(parse(**body), [])


def test_a_string_input_is_one_user_message_after_the_instructions():
    chat = chat_of(input="Hello", instructions="Be brief.", max_output_tokens=100, temperature=0.5)
    assert [(m.role, m.text()) for m in chat.messages] == [("system", "Be brief."), ("user", "Hello")]
    assert (chat.max_tokens, chat.temperature, chat.include_usage) == (100, 0.5, True)


def test_items_become_chat_turns_with_function_calls_merged_into_one_assistant_turn():
    chat = chat_of(input=[
        {"role": "developer", "content": "Rules."},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Two cities?"},
                                                        {"type": "input_image", "image_url": "data:image/png;base64,AA"}]},
        {"type": "function_call", "call_id": "c1", "name": "w", "arguments": '{"city":"Oslo"}'},
        {"type": "function_call", "call_id": "c2", "name": "w", "arguments": '{"city":"Rome"}'},
        {"type": "function_call_output", "call_id": "c1", "output": "cold"},
        {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "warm"}]},
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"role": "assistant", "content": "Oslo is cold, Rome warm."},
    ])
    roles = [m.role for m in chat.messages]
    assert roles == ["developer", "user", "assistant", "tool", "tool", "assistant"]
    assert [c.id for c in chat.messages[2].tool_calls] == ["c1", "c2"]
    assert chat.messages[1].content[1].url == "data:image/png;base64,AA"
    assert chat.messages[4].text() == "warm" and chat.messages[4].tool_call_id == "c2"


def test_reasoning_effort_reaches_openai_shaped_upstreams_only_as_reasoning_effort():
    chat = chat_of(input="x", reasoning={"effort": "low"})
    assert chat.extra == {"reasoning_effort": "low"} and chat.extra_format == "openai"


@pytest.mark.parametrize("tool", ["web_search", "web_search_preview", "file_search", "computer_use_preview",
                                  "code_interpreter", "image_generation", "mcp"])
def test_every_built_in_tool_is_refused_naming_it(tool):
    with pytest.raises(GatewayError) as refused:
        parse(input="x", tools=[{"type": "function", "name": "f"}, {"type": tool}])
    assert refused.value.status == 400 and refused.value.param == "tools[1].type"
    assert f"'{tool}'" in refused.value.message and refused.value.code == "unsupported_tool"


@pytest.mark.parametrize(("body", "param"), [
    ({"input": "x", "metadata": {f"k{i}": "v" for i in range(17)}}, "metadata"),
    ({"input": "x", "metadata": {"k": 1}}, "metadata.k"),
    ({"input": "x", "tool_choice": {"type": "file_search"}}, "tool_choice.type"),
    ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"input": "x", "reasoning": {"effort": "extreme"}}, "reasoning.effort"),
    ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
    ({"input": [{"type": "function_call_output", "call_id": "c"}]}, "input[0].output"),
    ({"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]}, "input[0].content[0].type"),
    ({"input": "x", "conversation": "conv_1"}, "conversation"),
    ({"input": "x", "store": "yes"}, "store"),
    ({"input": [{"role": {"a": 1}, "content": "x"}]}, "input[0].role"),  # unhashable values, found by fuzzing
    ({"input": "x", "tools": [{"type": ["web_search"]}]}, "tools[0].type"),
    ({"input": "x", "tool_choice": {"type": {}}}, "tool_choice.type"),
    ({"input": "x", "reasoning": {"effort": []}}, "reasoning.effort"),
])
def test_bad_input_names_the_parameter(body, param):
    with pytest.raises(GatewayError) as refused:
        parse(**body)
    assert refused.value.status == 400 and refused.value.param == param


def test_only_instructions_is_not_a_conversation():
    with pytest.raises(GatewayError) as refused:
        chat_of(input=[], instructions="Only rules")
    assert refused.value.param == "input"


def envelope(**body) -> wire.Envelope:
    return wire.Envelope("resp_1", "alias", parse(input="x", **body))


def test_a_whole_answer_renders_as_a_valid_response_object():
    answer = ChatResponse("c", "m", [Choice(0, Message("assistant", "Hi", tool_calls=[ToolCall("call_1", "f", "{}")]),
                                            "tool_calls")], usage=Usage.of(3, 4))
    body = wire.response_object(envelope(tools=[{"type": "function", "name": "f"}]), answer)
    response = Response.model_validate(body, strict=True)
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert response.output_text == "Hi" and response.usage.total_tokens == 7 and response.status == "completed"


def test_a_cut_answer_is_incomplete_with_the_reason():
    answer = ChatResponse("c", "m", [Choice(0, Message("assistant", "Hi"), "length")], usage=Usage.of(3, 4))
    response = Response.model_validate(wire.response_object(envelope(), answer), strict=True)
    assert response.status == "incomplete" and response.incomplete_details.reason == "max_output_tokens"


chunks = st.lists(st.one_of(
    st.builds(lambda text: ChatChunk("c", "m", content=text), st.text(max_size=8)),
    st.builds(lambda i, name: ChatChunk("c", "m", tool_calls=[ToolCallDelta(i, f"call_{i}", name, "")]),
              st.integers(0, 2), st.sampled_from(["f", "g"])),
    st.builds(lambda i, args: ChatChunk("c", "m", tool_calls=[ToolCallDelta(i, arguments=args)]),
              st.integers(0, 2), st.text(max_size=6)),
    st.builds(lambda reason: ChatChunk("c", "m", finish_reason=reason),
              st.sampled_from(["stop", "length", "tool_calls", "content_filter"])),
    st.builds(lambda p, c: ChatChunk("c", "m", usage=Usage.of(p, c)), st.integers(0, 99), st.integers(0, 99)),
    st.builds(lambda text: ChatChunk("c", "m", index=1, content=text), st.text(max_size=4)),
), max_size=12)


def events_of(body: bytes) -> list[dict]:
    events = []
    for block in body.split(b"\n\n"):
        if block.strip():
            name, data = block.split(b"\n", 1)
            payload = orjson.loads(data.removeprefix(b"data: "))
            assert name == b"event: " + payload["type"].encode()
            events.append(payload)
    return events


@seed(18)
@FUZZ
@given(chunks, st.booleans())
def test_any_chunk_sequence_renders_valid_events_in_order(sequence, fails):
    stream = wire.ResponsesStream(envelope())
    body = stream.opening() + b"".join(stream.feed(c) for c in sequence)
    body += stream.fail(GatewayError("cut")) if fails else stream.finish()
    events = events_of(body)
    for event in events:
        STREAM_EVENT.validate_python(event, strict=True)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    kinds = [e["type"] for e in events]
    terminal = {"response.completed", "response.incomplete", "response.failed"}
    assert kinds[:2] == ["response.created", "response.in_progress"] and kinds[-1] in terminal
    assert sum(k in terminal for k in kinds) == 1
    # every item added is done exactly once (unless the stream failed), and deltas only between the two
    added = [e["item"]["id"] for e in events if e["type"] == "response.output_item.added"]
    done = [e["item"]["id"] for e in events if e["type"] == "response.output_item.done"]
    assert done == added or fails
    if not fails:
        final = events[-1]["response"]
        text = "".join(c.content or "" for c in sequence if c.index == 0)
        assert "".join(p["text"] for item in final["output"] if item["type"] == "message"
                       for p in item["content"]) == text


responses_keys = ["model", "input", "instructions", "tools", "tool_choice", "parallel_tool_calls", "text",
                  "max_output_tokens", "temperature", "top_p", "metadata", "user", "reasoning", "store",
                  "previous_response_id", "stream", "include", "truncation", "background"]
items = st.one_of(
    json_values,
    st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "system", "developer", "tool"]),
                           "content": json_values}),
    st.fixed_dictionaries({"type": st.sampled_from(["message", "function_call", "function_call_output",
                                                    "reasoning", "item_reference", "input_text"])},
                          optional={"role": json_values, "content": json_values, "call_id": json_values,
                                    "name": json_values, "arguments": json_values, "output": json_values}),
)


@pytest.mark.smoke
@seed(18)
@settings(FUZZ, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.builds(lambda base, more: {**base, **more},
                 st.fixed_dictionaries({"model": st.just("m"), "input": st.one_of(st.text(max_size=8),
                                                                                  st.lists(items, max_size=4))}),
                 st.dictionaries(st.sampled_from(responses_keys), json_values, max_size=4)))
def test_responses_bodies_parse_or_get_a_4xx(body):
    try:
        chat = wire.to_chat(wire.parse_responses_request(orjson.dumps(body)), [])
    except GatewayError as error:
        assert 400 <= error.status < 500, error
        return
    translate_everywhere(chat)
