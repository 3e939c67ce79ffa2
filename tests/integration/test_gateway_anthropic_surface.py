"""The Anthropic surface in Anthropic's exact shapes, through the official SDK against the real server:
token counting, the models list, request-id, errors, toolu_ ids. And small gaps closed on both surfaces:
an upstream's ``param`` kept, a key's model list a real restriction, ``created`` never 0."""

from __future__ import annotations

from io import StringIO

import anthropic
import httpx
import openai
import orjson
import pytest
from anthropic.types import MessageTokensCount, ModelInfo
from django.core.management import call_command

from tests.integration.gateway_setup import create_key, wait_for

pytestmark = pytest.mark.integration

HELLO = [{"role": "user", "content": "Hello there, how are you?"}]
WEATHER = {"name": "get_weather", "description": "The weather in a city",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


@pytest.fixture
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url.removesuffix("/v1"), api_key=gateway.key, max_retries=0)


def anthropic_post(gateway, path: str, body: dict, key: str | None = None) -> httpx.Response:
    return httpx.post(gateway.url + path, json=body, headers={
        "x-api-key": key or gateway.key, "anthropic-version": "2023-06-01"})


# --- count_tokens ----------------------------------------------------------------------------------------------

def test_count_tokens_in_anthropics_exact_shape(client):
    raw = client.messages.with_raw_response.count_tokens(model="fast-chat", system="Be brief.", messages=HELLO,
                                                         tools=[WEATHER])

    counted = MessageTokensCount.model_validate_json(raw.http_response.content, strict=True)
    assert counted.input_tokens > 0 and set(raw.http_response.json()) == {"input_tokens"}
    assert raw.headers["request-id"] == raw.headers["x-request-id"]
    longer = client.messages.count_tokens(model="fast-chat", system="Be brief.", messages=HELLO * 3, tools=[WEATHER])
    assert longer.input_tokens > counted.input_tokens


def test_count_tokens_is_not_a_model_call(gateway, client):
    from portal.models import UsageEvent

    counted = client.messages.with_raw_response.count_tokens(model="fast-chat", messages=HELLO)
    called = client.messages.with_raw_response.create(model="fast-chat", max_tokens=10, messages=HELLO)
    wait_for(lambda: UsageEvent.objects.filter(request_id=called.headers["x-request-id"]).exists(),
             what="the metering flush")
    assert not UsageEvent.objects.filter(request_id=counted.headers["x-request-id"]).exists()


COUNT_ERRORS = [
    ({"model": "fast-chat", "messages": HELLO}, "sb-" + "z" * 40, 401, "authentication_error"),
    ({"model": "no-such-model", "messages": HELLO}, None, 404, "not_found_error"),
    ({"model": "fast-chat"}, None, 400, "invalid_request_error"),
    ({"model": "fast-chat", "messages": "hi"}, None, 400, "invalid_request_error"),
    ({"model": "other-team-chat", "messages": HELLO}, None, 403, "permission_error"),
]


def test_count_tokens_errors_in_anthropics_shape(gateway):
    for body, key, status, error_type in COUNT_ERRORS:  # one server setup for all
        response = anthropic_post(gateway, "/messages/count_tokens", body, key=key)
        assert response.status_code == status, response.text
        assert response.json()["type"] == "error" and response.json()["error"]["type"] == error_type
        assert response.headers["request-id"] == response.headers["x-request-id"]


def test_count_tokens_errors_become_the_sdks_classes(gateway, client):
    with pytest.raises(anthropic.AuthenticationError):
        anthropic.Anthropic(base_url=gateway.url.removesuffix("/v1"), api_key="sb-" + "q" * 40,
                            max_retries=0).messages.count_tokens(model="fast-chat", messages=HELLO)
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="no-such-model", messages=HELLO)


# --- errors and request-id on the rest of /v1/messages* -------------------------------------------------------

@pytest.mark.parametrize("path", ["/messages", "/messages/count_tokens", "/messages/nope"])
def test_every_messages_path_answers_errors_in_anthropics_shape(gateway, path):
    response = httpx.post(gateway.url + path, json={}, headers={"anthropic-version": "2023-06-01"})

    assert response.status_code in (401, 404)
    assert response.json()["type"] == "error" and "type" in response.json()["error"]
    assert response.headers["request-id"] == response.headers["x-request-id"]


# --- /v1/models for the Anthropic SDK --------------------------------------------------------------------------

def test_models_list_and_retrieve_in_anthropics_shape(client):
    raw = client.models.with_raw_response.list()
    page = raw.http_response.json()

    assert set(page) == {"data", "has_more", "first_id", "last_id"}
    models = [ModelInfo.model_validate_json(orjson.dumps(item), strict=True) for item in page["data"]]
    ids = [m.id for m in models]
    assert "fast-chat" in ids and "gone-chat" not in ids and "other-team-chat" not in ids
    assert (page["first_id"], page["last_id"]) == (ids[0], ids[-1])
    assert all(m.created_at.year > 1970 for m in models)
    assert raw.headers["request-id"] == raw.headers["x-request-id"]

    one = client.models.with_raw_response.retrieve("fast-chat")
    fast = ModelInfo.model_validate_json(one.http_response.content, strict=True)
    assert (fast.id, fast.display_name, fast.created_at.isoformat()) == ("fast-chat", "fast-chat",
                                                                          "2026-01-05T00:00:00+00:00")
    old = client.models.retrieve("old-chat")
    assert old.lifecycle == "deprecated" and old.retires_at.year == 2099


def test_the_sdk_pages_through_the_models(client):
    everything = [m.id for m in client.models.list(limit=1000)]
    paged = [m.id for m in client.models.list(limit=2)]  # the SDK follows after_id / has_more

    assert paged == everything and len(everything) > 2
    first = client.models.list(limit=2)
    assert first.has_more and len(first.data) == 2


def test_an_unknown_model_and_bad_paging_in_anthropics_shape(client):
    with pytest.raises(anthropic.NotFoundError):
        client.models.retrieve("no-such-model")
    with pytest.raises(anthropic.BadRequestError):
        client.models.list(limit=0)


# --- toolu_ ids ------------------------------------------------------------------------------------------------

def test_tool_use_ids_are_toolu_and_map_back_consistently(gateway, fake_upstream, client):
    first = client.messages.create(model="fast-chat", max_tokens=50, messages=[
        {"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER])
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.id == "toolu_fake1" and call.input == {"city": "Paris"}

    client.messages.create(model="fast-chat", max_tokens=50, tools=[WEATHER], messages=[
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [call.model_dump()]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "12C"}]}])

    sent = httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()[-1]["body"]["messages"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"] == "toolu_fake1"


def test_streamed_tool_use_ids_are_toolu(client):
    with client.messages.stream(model="demo-chat", max_tokens=50, tools=[WEATHER],
                                messages=[{"role": "user", "content": "Weather in Oslo?"}]) as stream:
        final = stream.get_final_message()

    ids = [block.id for block in final.content if block.type == "tool_use"]
    assert ids and all(i.startswith("toolu_") for i in ids)


# --- an upstream's param, a key's model list, created ---------------------------------------------------------

@pytest.fixture
def strict_chat(gateway, fake_upstream, tmp_path) -> str:
    """A key for an alias whose upstream refuses ``temperature`` (400 naming it)."""
    registry = tmp_path / "strict.yaml"
    registry.write_text(f"""
providers:
  - name: local-openai
    kind: openai-compatible
    base_url: {fake_upstream}
    api_key: env:SB_TEST_UPSTREAM_KEY
models:
  - alias: strict-chat
    kind: chat
    status: approved
    routes:
      - {{provider: local-openai, upstream_model: fail-400, weight: 100}}
""")
    call_command("registry", "apply", str(registry), stdout=StringIO())
    key = create_key("acme", "strict-bot", ["strict-chat"])["key"]
    wait_for(lambda: gateway.get("/models", key=key).status_code == 200, what="the gateway to load the key")
    return key


def test_an_upstreams_param_reaches_the_caller(gateway, strict_chat):
    client = openai.OpenAI(base_url=gateway.url, api_key=strict_chat, max_retries=0)
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(model="strict-chat", temperature=0.3,
                                       messages=[{"role": "user", "content": "hi"}])

    assert info.value.param == "temperature" and info.value.code == "upstream_bad_request"


def test_a_keys_model_list_restricts_it_within_its_applications_subscriptions(gateway):
    # Same application as the fixture's key, which is subscribed to every alias in SUBSCRIBED.
    narrow = create_key("acme", "checkout-bot", ["fast-chat"])["key"]
    wait_for(lambda: gateway.get("/models", key=narrow).status_code == 200, what="the gateway to load the key")
    client = openai.OpenAI(base_url=gateway.url, api_key=narrow, max_retries=0)

    assert [m.id for m in client.models.list()] == ["fast-chat"]
    assert client.chat.completions.create(model="fast-chat", messages=[{"role": "user", "content": "hi"}]).choices
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "hi"}])
    assert info.value.code == "model_not_allowed_for_key" and "'demo-chat'" in info.value.message
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("demo-chat")
    # The application's broader key still calls what the application is subscribed to.
    wide = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    assert wide.chat.completions.create(model="demo-chat", messages=[{"role": "user", "content": "hi"}]).choices


def test_created_is_never_zero(gateway):
    client = openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)
    models = {m.id: m.created for m in client.models.list()}

    assert models["fast-chat"] == 1767571200  # its approval day, 2026-01-05
    assert all(created > 0 for created in models.values()), models  # embed-small has no approval day
