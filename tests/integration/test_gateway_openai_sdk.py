"""The official OpenAI SDK, pointed at the real gateway, works unchanged."""

from __future__ import annotations

import base64
import struct

import httpx
import openai
import pytest

from tests.integration.gateway_setup import SUBSCRIBED, UPSTREAM_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def test_models_lists_exactly_the_callable_subscriptions(client):
    listed = {m.id for m in client.models.list()}
    assert listed == set(SUBSCRIBED) - {"gone-chat"}  # retired aliases are not offered
    assert client.models.retrieve("fast-chat").id == "fast-chat"


def test_chat_against_an_openai_compatible_upstream(client):
    completion = client.chat.completions.create(model="fast-chat", messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content == "Switchboard routes every call through one gateway."
    assert completion.model == "fast-chat"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (12, 8)


def test_the_upstream_gets_the_provider_secret_not_the_callers_key(client, gateway, fake_upstream):
    client.chat.completions.create(model="fast-chat", messages=[{"role": "user", "content": "Hi"}])
    last = httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()[-1]
    assert last["authorization"] == f"Bearer {UPSTREAM_KEY}"
    assert last["body"]["model"] == "fake-model"


def test_streaming_passes_chunks_and_usage(client):
    stream = client.chat.completions.create(
        model="fast-chat", messages=[{"role": "user", "content": "Hi"}], stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Switchboard routes every call through"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5
    assert {c.model for c in chunks} == {"fast-chat"}


def test_tool_calls(client):
    completion = client.chat.completions.create(
        model="fast-chat",
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
    )
    call = completion.choices[0].message.tool_calls[0]
    assert completion.choices[0].finish_reason == "tool_calls"
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Paris"}')


def test_embeddings_float_and_base64(client):
    floats = client.embeddings.create(model="embed-small", input=["hello", "world"])
    assert [d.index for d in floats.data] == [0, 1]
    # The SDK asks for base64 by default and decodes float32, hence approx.
    assert floats.data[0].embedding[:3] == pytest.approx([0.1, 0.2, 0.3])
    raw = httpx.post(
        str(client.base_url) + "embeddings",
        headers={"authorization": f"Bearer {client.api_key}"},
        json={"model": "embed-small", "input": "hello", "encoding_format": "base64"},
    ).json()
    vector = struct.unpack("<4f", base64.b64decode(raw["data"][0]["embedding"]))
    assert vector[:3] == pytest.approx((0.1, 0.2, 0.3))


def test_the_demo_model_answers_and_streams_without_any_key(client):
    plain = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "ping"}])
    again = client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "ping"}])
    assert plain.choices[0].message.content and plain.choices[0].message.content == again.choices[0].message.content
    pieces = [c.choices[0].delta.content for c in client.chat.completions.create(
        model="demo-chat", messages=[{"role": "user", "content": "ping"}], stream=True) if c.choices and c.choices[0].delta.content]
    assert len(pieces) > 1 and "".join(pieces) == plain.choices[0].message.content
    assert len(client.embeddings.create(model="demo-embed", input="hi").data[0].embedding) > 0


async def test_async_client(gateway):
    client = openai.AsyncOpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    completion = await client.chat.completions.create(model="fast-chat", messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content.startswith("Switchboard")
    stream = await client.chat.completions.create(model="fast-chat", messages=[{"role": "user", "content": "Hi"}],
                                                  stream=True)
    assert len([c async for c in stream]) >= 5
    await client.close()


def test_sdk_error_classes(gateway):
    bad = openai.OpenAI(base_url=gateway.url, api_key="sb-" + "x" * 40, max_retries=0)
    good = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    other = openai.OpenAI(base_url=gateway.url, api_key=gateway.other_key, max_retries=0)
    messages = [{"role": "user", "content": "Hi"}]
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="fast-chat", messages=messages)
    with pytest.raises(openai.PermissionDeniedError, match="not subscribed"):
        other.chat.completions.create(model="fast-chat", messages=messages)
    with pytest.raises(openai.NotFoundError):
        good.chat.completions.create(model="no-such-model", messages=messages)
    with pytest.raises(openai.RateLimitError):
        good.chat.completions.create(model="busy-chat", messages=messages)
    with pytest.raises(openai.BadRequestError, match="messages"):
        good.chat.completions.create(model="fast-chat", messages=[])
    with pytest.raises(openai.APIStatusError) as gone:
        good.chat.completions.create(model="gone-chat", messages=messages)
    assert gone.value.status_code == 410 and "fast-chat" in gone.value.message


def test_deprecated_alias_answers_with_deprecation_headers(client):
    raw = client.chat.completions.with_raw_response.create(model="old-chat", messages=[{"role": "user", "content": "Hi"}])
    assert raw.status_code == 200
    assert raw.headers["deprecation"].startswith("@")
    assert raw.headers["sunset"] == "Thu, 31 Dec 2099 00:00:00 GMT"
    assert "fast-chat" in raw.headers["link"]
    assert raw.headers["x-request-id"]
