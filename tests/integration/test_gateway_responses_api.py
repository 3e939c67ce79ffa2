"""OpenAI's Responses API through the real gateway, called with the official SDK, every answer and event
validated strictly against the SDK's own types."""

from __future__ import annotations

import httpx
import jsonschema
import openai
import orjson
import pydantic
import pytest
from openai.types.responses import Response, ResponseInputItem, ResponseStreamEvent
from openai.types.responses.input_token_count_response import InputTokenCountResponse

from gateway.models import StoredResponse
from portal.models import UsageEvent
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration

FAKE_ANSWER = "Switchboard routes every call through one gateway."
STREAM_EVENT = pydantic.TypeAdapter(ResponseStreamEvent)
INPUT_ITEM = pydantic.TypeAdapter(ResponseInputItem)
WEATHER = {"type": "function", "name": "get_weather", "description": "The weather in a city.",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"],
                          "additionalProperties": False}}


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def strict_response(raw: dict) -> Response:
    """The raw JSON as the SDK's ``Response``, strictly; and nothing in it the type does not know (but ``store``,
    which OpenAI's own answers carry and the SDK's type leaves out)."""
    response = Response.model_validate(raw, strict=True)
    assert set(raw) - {"store"} <= set(Response.model_fields), set(raw) - set(Response.model_fields)
    return response


def raw_create(client, **body) -> tuple[httpx.Response, dict]:
    raw = client.responses.with_raw_response.create(**body)
    return raw.http_response, orjson.loads(raw.http_response.content)


def upstream_requests(fake_upstream) -> list[dict]:
    return httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()


@pytest.mark.smoke
def test_a_plain_response(client):
    http, raw = raw_create(client, model="fast-chat", input="Hi", instructions="Be brief.", metadata={"ticket": "7"})
    response = strict_response(raw)
    assert response.output_text == FAKE_ANSWER
    assert (response.status, response.model, response.object) == ("completed", "fast-chat", "response")
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    assert (response.usage.input_tokens, response.usage.output_tokens, response.usage.total_tokens) == (12, 8, 20)
    assert response.instructions == "Be brief." and response.metadata == {"ticket": "7"}
    assert http.headers["x-request-id"]


def test_the_upstream_reads_instructions_as_the_system_prompt(client, fake_upstream):
    client.responses.create(model="fast-chat", instructions="Answer in French.",
                            input=[{"role": "user", "content": [{"type": "input_text", "text": "Hello"}]}],
                            max_output_tokens=64, temperature=0.2)
    sent = upstream_requests(fake_upstream)[-1]["body"]
    assert sent["messages"] == [{"role": "system", "content": "Answer in French."},
                                {"role": "user", "content": [{"type": "text", "text": "Hello"}]}]
    assert (sent["max_tokens"], sent["temperature"], sent["model"]) == (64, 0.2, "fake-model")


@pytest.mark.smoke
def test_a_streamed_response_sends_the_typed_events_in_order(client):
    events = list(client.responses.create(model="fast-chat", input="Hi", stream=True))
    kinds = [e.type for e in events]
    assert kinds[:5] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added", "response.output_text.delta"]
    assert kinds[-5:] == ["response.output_text.delta", "response.output_text.done", "response.content_part.done",
                          "response.output_item.done", "response.completed"]
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    done = next(e for e in events if e.type == "response.output_text.done")
    assert text == done.text == "Switchboard routes every call through"
    final = events[-1].response
    assert final.output_text == text and final.usage.output_tokens == 5 and final.status == "completed"


def test_the_raw_stream_has_one_terminal_event_and_no_done_marker(client, gateway):
    with httpx.stream("POST", gateway.url + "/responses", headers={"authorization": f"Bearer {gateway.key}"},
                      json={"model": "demo-chat", "input": "Tell me about streams", "stream": True}) as http:
        assert http.headers["content-type"].startswith("text/event-stream")
        body = b"".join(http.iter_bytes())
    assert b"[DONE]" not in body
    blocks = [b for b in body.split(b"\n\n") if b.strip()]
    events = []
    for block in blocks:
        name, data = block.split(b"\n", 1)
        payload = orjson.loads(data.removeprefix(b"data: "))
        assert name == b"event: " + payload["type"].encode()  # the SSE event name is the event's type
        STREAM_EVENT.validate_python(payload, strict=True)
        events.append(payload["type"])
    terminal = [e for e in events if e in ("response.completed", "response.failed", "response.incomplete")]
    assert terminal == ["response.completed"] and events[-1] == "response.completed"


def test_responses_stream_helper_collects_the_final_response(client):
    with client.responses.stream(model="demo-chat", input="Stream this") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert final.output_text == "".join(deltas)
    assert "You said: \u201cStream this\u201d" in final.output_text


@pytest.mark.smoke
def test_function_tools_full_round_trip(client):
    first = client.responses.create(model="demo-chat", input="What is the weather in Paris?", tools=[WEATHER])
    strict_response(first.model_dump(mode="json", exclude_unset=True))
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather" and call.id.startswith("fc_")
    jsonschema.validate(orjson.loads(call.arguments), WEATHER["parameters"])
    assert first.tools[0].name == "get_weather"

    second = client.responses.create(
        model="demo-chat", previous_response_id=first.id, tools=[WEATHER],
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny, 24 C"}])
    assert second.output_text == "The tool returned: Sunny, 24 C"
    assert second.previous_response_id == first.id


def test_a_whole_conversation_sent_as_items_reaches_the_upstream_as_chat(client, fake_upstream):
    client.responses.create(model="fast-chat", tools=[WEATHER], input=[
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
    ])
    sent = upstream_requests(fake_upstream)[-1]["body"]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "tool"]
    assert sent["messages"][1]["tool_calls"][0]["function"] == {"name": "get_weather", "arguments": '{"city":"Paris"}'}
    assert sent["messages"][2] == {"role": "tool", "content": "Sunny", "tool_call_id": "call_1"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"


def test_streamed_function_call_arguments(client):
    events = list(client.responses.create(model="demo-chat", input="Weather in Oslo?", tools=[WEATHER], stream=True))
    kinds = [e.type for e in events]
    assert "response.function_call_arguments.delta" in kinds
    done = next(e for e in events if e.type == "response.function_call_arguments.done")
    final = events[-1].response
    call = next(item for item in final.output if item.type == "function_call")
    assert call.arguments == done.arguments and orjson.loads(call.arguments)["city"]
    added = next(e for e in events if e.type == "response.output_item.added")
    assert added.item.type == "function_call" and added.item.id == call.id


class Verdict(pydantic.BaseModel):
    label: str
    confidence: float
    reasons: list[str]


def test_structured_output_with_text_format(client):
    schema = {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
              "required": ["city", "days"], "additionalProperties": False}
    response = client.responses.create(model="demo-chat", input="Plan a trip to Rome",
                                       text={"format": {"type": "json_schema", "name": "trip", "schema": schema,
                                                        "strict": True}})
    jsonschema.validate(orjson.loads(response.output_text), schema)
    assert response.text.format.type == "json_schema"

    parsed = client.responses.parse(model="demo-chat", input="Classify this review", text_format=Verdict)
    assert isinstance(parsed.output_parsed, Verdict)


@pytest.mark.smoke
def test_previous_response_id_carries_the_conversation(client, fake_upstream):
    first = client.responses.create(model="fast-chat", input="My name is Ada.", instructions="Be kind.")
    client.responses.create(model="fast-chat", input="What is my name?", previous_response_id=first.id)
    sent = upstream_requests(fake_upstream)[-1]["body"]["messages"]
    # The earlier turns, not the earlier instructions (as OpenAI: instructions do not carry over).
    assert sent == [{"role": "user", "content": [{"type": "text", "text": "My name is Ada."}]},
                    {"role": "assistant", "content": [{"type": "text", "text": FAKE_ANSWER}]},
                    {"role": "user", "content": [{"type": "text", "text": "What is my name?"}]}]


def test_store_false_keeps_nothing(client):
    before = StoredResponse.objects.count()
    response = client.responses.create(model="fast-chat", input="Forget me", store=False)
    assert response.model_extra["store"] is False
    assert StoredResponse.objects.count() == before
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(response.id)
    with pytest.raises(openai.NotFoundError) as continued:
        client.responses.create(model="fast-chat", input="And now?", previous_response_id=response.id)
    assert continued.value.body["param"] == "previous_response_id"
    assert response.id in continued.value.body["message"]


@pytest.mark.smoke
def test_retrieve_and_delete(client, gateway):
    created = client.responses.create(model="fast-chat", input="Keep me", metadata={"k": "v"})
    http = httpx.get(f"{gateway.url}/responses/{created.id}", headers={"authorization": f"Bearer {gateway.key}"})
    retrieved = strict_response(http.json())
    assert retrieved == created
    items = client.responses.input_items.list(created.id)
    assert [item.content[0].text for item in items.data] == ["Keep me"]
    for item in http_items(gateway, created.id):
        INPUT_ITEM.validate_python(item, strict=True)

    client.responses.delete(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(created.id)
    with pytest.raises(openai.NotFoundError):
        client.responses.delete(created.id)


def http_items(gateway, response_id: str) -> list[dict]:
    return httpx.get(f"{gateway.url}/responses/{response_id}/input_items?order=asc",
                     headers={"authorization": f"Bearer {gateway.key}"}).json()["data"]


@pytest.mark.smoke
def test_a_key_never_reads_another_teams_responses(client, gateway):
    mine = client.responses.create(model="fast-chat", input="Private")
    theirs = openai.OpenAI(base_url=gateway.url, api_key=gateway.other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.retrieve(mine.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.delete(mine.id)
    with pytest.raises(openai.NotFoundError):
        theirs.responses.create(model="other-team-chat", input="x", previous_response_id=mine.id)
    assert client.responses.retrieve(mine.id).id == mine.id  # still there


def test_built_in_tools_are_refused_by_name(client):
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="fast-chat", input="Search the web", tools=[{"type": "web_search"}])
    body = refused.value.body
    assert "web_search" in body["message"] and body["param"] == "tools[0].type"
    assert body["code"] == "unsupported_tool" and refused.value.status_code == 400


BAD_BODIES = [
    ({"input": "x"}, "model"),
    ({"model": "fast-chat"}, "input"),
    ({"model": "fast-chat", "input": 7}, "input"),
    ({"model": "fast-chat", "input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ({"model": "fast-chat", "input": "x", "temperature": 3}, "temperature"),
    ({"model": "fast-chat", "input": "x", "max_output_tokens": 1}, "max_output_tokens"),
    ({"model": "fast-chat", "input": "x", "text": {"format": {"type": "json_schema", "name": "n"}}},
     "text.format.schema"),
    ({"model": "fast-chat", "input": "x", "frobnicate": True}, "frobnicate"),
    ({"model": "fast-chat", "input": "x", "background": True}, "background"),
]


def test_bad_input_is_a_400_naming_the_parameter(gateway):
    for body, param in BAD_BODIES:  # one server setup for all
        answer = gateway.post("/responses", json=body)
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert (error["param"], error["type"]) == (param, "invalid_request_error"), body


def test_unknown_alias_and_bad_key_answer_in_openai_shape(gateway):
    assert gateway.post("/responses", json={"model": "nope", "input": "x"}).status_code == 404
    refused = gateway.post("/responses", key="sk-wrong", json={"model": "fast-chat", "input": "x"})
    assert refused.status_code == 401 and refused.json()["error"]["type"]
    assert gateway.get("/responses/resp_unknown").status_code == 404


def test_every_response_is_metered_once_as_responses(client):
    plain = client.responses.with_raw_response.create(model="fast-chat", input="Meter me")
    with client.responses.with_streaming_response.create(model="fast-chat", input="And me", stream=True) as streamed:
        list(streamed.iter_lines())
    ids = {plain.headers["x-request-id"], streamed.headers["x-request-id"]}
    wait_for(lambda: UsageEvent.objects.filter(request_id__in=ids).count() == 2, what="the metering flush")
    events = UsageEvent.objects.filter(request_id__in=ids)
    assert {e.operation for e in events} == {"responses"}
    assert sorted(e.streamed for e in events) == [False, True]
    assert all(e.alias == "fast-chat" and e.total_tokens > 0 for e in events)


def test_input_tokens_are_counted_like_the_call_would_read_them(client):
    raw = client.responses.input_tokens.with_raw_response.count(model="fast-chat", input="Count these words please")
    counted = InputTokenCountResponse.model_validate(orjson.loads(raw.http_response.content), strict=True)
    assert counted.object == "response.input_tokens" and counted.input_tokens > 0
    longer = client.responses.input_tokens.count(model="fast-chat", input="Count these words please " * 20)
    assert longer.input_tokens > counted.input_tokens
