"""The official OpenAI SDK's legacy ``client.completions`` works against the real gateway, on chat aliases,
through the whole governed pipeline: answers that validate strictly as the SDK's ``Completion``, plain and
streamed, one usage event with operation "completions", and clear 400s for what a chat model cannot do."""

from __future__ import annotations

import httpx
import openai
import orjson
import pytest
from openai.types import Completion

from portal.models import UsageEvent
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def strict(raw: dict) -> Completion:
    return Completion.model_validate(raw, strict=True)


def strict_chunk(raw: dict) -> Completion:
    """A streamed chunk, strictly. OpenAI streams ``finish_reason: null`` until the last chunk, while the SDK
    types it as never null (it builds stream chunks without validating), so only that null is allowed here."""
    choices = [{**c, "finish_reason": c["finish_reason"] or "stop"} for c in raw["choices"]]
    return strict({**raw, "choices": choices})


def stream_events(response: httpx.Response) -> list[bytes]:
    return [line.removeprefix(b"data: ") for line in response.content.split(b"\n\n") if line]


@pytest.mark.parametrize(("alias", "expected"), [
    ("fast-chat", "Switchboard routes every call through one gateway."),
    ("demo-chat", None),
])
def test_a_completion_validates_strictly_as_the_sdks_type(client, alias, expected):
    raw = client.completions.with_raw_response.create(model=alias, prompt="Say something", max_tokens=64)
    completion = strict(orjson.loads(raw.content))
    assert completion.object == "text_completion"
    assert completion.id.startswith("cmpl-")
    assert completion.model == alias
    assert completion.choices[0].text == (expected or completion.choices[0].text)
    assert completion.choices[0].text
    assert completion.usage.completion_tokens > 0
    assert raw.headers["x-switchboard-endpoint"]


def test_the_upstream_gets_the_prompt_as_one_user_message_with_max_tokens_16(client, fake_upstream):
    client.completions.create(model="fast-chat", prompt="Say something")
    sent = httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()[-1]["body"]
    assert sent["messages"] == [{"role": "user", "content": "Say something"}]
    assert sent["max_tokens"] == 16


def test_the_demo_model_stops_at_max_tokens_with_finish_reason_length(client):
    completion = client.completions.create(model="demo-chat", prompt="Tell me a long story", max_tokens=2)
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize("alias", ["fast-chat", "demo-chat"])
def test_a_streamed_completion_is_text_completion_chunks_then_usage_then_done(gateway, alias):
    response = gateway.post("/completions", json={"model": alias, "prompt": "Say something", "max_tokens": 64,
                                                  "stream": True, "stream_options": {"include_usage": True}})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    *chunks, done = stream_events(response)
    assert done == b"[DONE]"
    parsed = [strict_chunk(orjson.loads(c)) for c in chunks]
    assert {c.object for c in parsed} == {"text_completion"}
    assert {c.model for c in parsed} == {alias}
    assert parsed[-1].choices == []
    assert parsed[-1].usage.completion_tokens > 0
    assert parsed[-2].choices[0].finish_reason in ("stop", "length")
    assert "".join(c.choices[0].text for c in parsed[:-1])


def test_the_sdk_streams_a_completion(client):
    stream = client.completions.create(model="fast-chat", prompt="Say something", stream=True,
                                       stream_options={"include_usage": True})
    chunks = list(stream)
    assert "".join(c.choices[0].text for c in chunks if c.choices) == "Switchboard routes every call through"
    assert chunks[-1].usage.completion_tokens == 5


def test_a_completion_and_a_streamed_one_are_each_recorded_as_completions(gateway, client):
    plain = client.completions.with_raw_response.create(model="fast-chat", prompt="Hi")
    streamed = gateway.post("/completions", json={"model": "demo-chat", "prompt": "Hi", "stream": True})
    assert streamed.status_code == 200
    wait_for(lambda: UsageEvent.objects.count() == 2, what="the metering flush")
    event = UsageEvent.objects.get(request_id=plain.headers["x-request-id"])
    assert (event.alias, event.operation, event.status, event.streamed) == ("fast-chat", "completions", 200, False)
    assert (event.prompt_tokens, event.completion_tokens) == (12, 8)
    stream_event = UsageEvent.objects.get(request_id=streamed.headers["x-request-id"])
    assert (stream_event.alias, stream_event.operation, stream_event.streamed) == ("demo-chat", "completions", True)
    assert stream_event.completion_tokens > 0


BAD_INPUT = [
    ({"prompt": [1, 2, 3]}, "prompt"),
    ({"prompt": ["one", "two"]}, "prompt"),
    ({"suffix": "end"}, "suffix"),
    ({"echo": True}, "echo"),
    ({"logprobs": 1}, "logprobs"),
    ({"best_of": 2}, "best_of"),
    ({"temperature": 9}, "temperature"),
]


def test_bad_input_is_a_400_naming_the_param(client):
    for fields, param in BAD_INPUT:  # one server setup for all (each case is one request)
        with pytest.raises(openai.BadRequestError) as info:
            client.completions.create(**{"model": "fast-chat", "prompt": "Hi", **fields})
        assert (info.value.status_code, info.value.body["param"]) == (400, param), fields


def test_an_embeddings_alias_is_not_a_completions_model(client):
    with pytest.raises(openai.BadRequestError) as info:
        client.completions.create(model="embed-small", prompt="Hi")
    assert info.value.body["param"] == "model"
