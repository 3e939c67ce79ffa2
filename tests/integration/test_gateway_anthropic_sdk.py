"""The official Anthropic SDK works against /v1/messages on any alias, whatever the provider behind it."""

from __future__ import annotations

import anthropic
import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def client(gateway):
    # The SDK appends /v1/messages to its base URL.
    return anthropic.Anthropic(base_url=gateway.url.removesuffix("/v1"), api_key=gateway.key, max_retries=0)


def test_messages_on_an_openai_compatible_upstream(client):
    message = client.messages.create(model="fast-chat", max_tokens=100, messages=[{"role": "user", "content": "Hi"}])
    assert message.content[0].text == "Switchboard routes every call through one gateway."
    assert message.model == "fast-chat" and message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 8)


def test_streaming_events(client):
    with client.messages.stream(model="fast-chat", max_tokens=100,
                                messages=[{"role": "user", "content": "Hi"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Switchboard routes every call through"
    assert final.usage.output_tokens == 5


def test_the_demo_model_through_the_anthropic_shape(client):
    message = client.messages.create(model="demo-chat", max_tokens=50, system="Be brief.",
                                     messages=[{"role": "user", "content": "ping"}])
    assert message.content[0].text


def test_older_sdks_authenticate_with_x_api_key(gateway):
    response = httpx.post(gateway.url + "/messages", headers={"x-api-key": gateway.key, "anthropic-version": "2023-06-01"},
                          json={"model": "fast-chat", "max_tokens": 10, "messages": [{"role": "user", "content": "Hi"}]})
    assert response.status_code == 200 and response.json()["type"] == "message"


def test_sdk_error_classes(gateway):
    base = gateway.url.removesuffix("/v1")
    messages = [{"role": "user", "content": "Hi"}]
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=base, api_key="sb-" + "y" * 40, max_retries=0).messages.create(
            model="fast-chat", max_tokens=10, messages=messages)
    good = anthropic.Anthropic(base_url=base, api_key=gateway.key, max_retries=0)
    with pytest.raises(anthropic.NotFoundError):
        good.messages.create(model="no-such-model", max_tokens=10, messages=messages)
    with pytest.raises(anthropic.RateLimitError):
        good.messages.create(model="busy-chat", max_tokens=10, messages=messages)
    with pytest.raises(anthropic.PermissionDeniedError):
        anthropic.Anthropic(base_url=base, api_key=gateway.other_key, max_retries=0).messages.create(
            model="fast-chat", max_tokens=10, messages=messages)
    with pytest.raises(anthropic.BadRequestError):
        good.messages.create(model="fast-chat", max_tokens=10, messages=[])
