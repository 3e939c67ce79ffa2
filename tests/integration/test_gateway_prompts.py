"""Prompt APIs through the real gateway (issue 16, part 3) with the official OpenAI SDK: a team publishes a
prompt, another team's application subscribes (request, then the prompt owner's approval) and calls it
plain and streaming, pinned to a version and via a label; the label moves; every call is metered against the
prompt and its version as well as the model; bad input is refused naming what is wrong."""

from __future__ import annotations

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from portal import services as portal_services
from portal.models import UsageEvent
from registry import services_prompts as prompts
from registry.models import ModelAlias
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration

VARIABLES = [{"name": "text", "type": "string"}, {"name": "n", "type": "integer", "default": 3}]


@pytest.fixture
def published(gateway, make_member):
    """globex publishes `summarise` (v1, v2; production → 1, staging → 2); an application of acme that uses no
    model of its own subscribes to it."""
    globex = Tenant.objects.get(slug="globex")
    author = make_member(globex, TenantRole.DEVELOPER, email="author@example.com")
    reviewer = make_member(globex, TenantRole.DEVELOPER, email="reviewer@example.com")
    prompt = prompts.create_prompt(actor=author, tenant=globex, slug="summarise", title="Summarise in bullets",
                                   owners=[author, reviewer])
    v1 = prompts.add_version(actor=author, prompt=prompt, template="Summarise {{ text }} in {{ n }} bullets",
                             system_prompt="Be terse.", variables=VARIABLES, alias="fast-chat", max_tokens=200)
    v2 = prompts.add_version(actor=author, prompt=prompt, template="In {{ n }} bullets, summarise: {{ text }}",
                             variables=VARIABLES, alias="fast-chat", temperature="0.10")
    for version in (v1, v2):
        prompts.publish(actor=author, prompt=prompt, version=version)
    prompts.move_label(actor=author, prompt=prompt, label="production", version=v1)
    prompts.move_label(actor=author, prompt=prompt, label="staging", version=v2)
    app = portal_services.create_application(actor=None, tenant=Tenant.objects.get(slug="acme"),
                                             name="ticket-summariser")
    request = portal_services.request_subscription(actor=None, application=app,
                                                   alias=ModelAlias.objects.get(name="summarise"),
                                                   use_case="Summarise tickets")
    portal_services.approve_subscription(actor=reviewer, subscription=request, comment="Fine")  # the prompt's owner
    _, secret = portal_services.create_api_key(actor=None, application=app, name="prompts")
    client = openai.OpenAI(base_url=gateway.url, api_key=secret, max_retries=0)
    wait_for(lambda: httpx.post(gateway.url + "/prompts/summarise", headers={"authorization": f"Bearer {secret}"},
                                json={"variables": {"text": "x"}}).status_code == 200,
             what="the gateway to load the prompt and the key")
    client.raw_key = secret  # for the refusals, read with httpx (the SDK raises on them)
    return client, author, prompt, v2


def call(client: openai.OpenAI, reference: str, **body) -> ChatCompletion:
    return client.post(f"/prompts/{reference}", body=body, cast_to=ChatCompletion)


def last_sent(fake_upstream: str) -> dict:
    return httpx.get(fake_upstream.removesuffix("/v1") + "/_requests").json()[-1]["body"]


@pytest.mark.smoke  # on the embedded default too
def test_call_pinned_and_by_label_plain_and_streaming_then_move_the_label(published, fake_upstream):
    client, author, prompt, v2 = published
    answer = call(client, "summarise@1", variables={"text": "the minutes", "n": 2})
    assert answer.object == "chat.completion" and answer.model == "fast-chat" and answer.choices[0].message.content
    sent = last_sent(fake_upstream)
    assert sent["messages"] == [{"role": "system", "content": "Be terse."},
                                {"role": "user", "content": "Summarise the minutes in 2 bullets"}]
    assert sent["max_tokens"] == 200

    stream = client.post("/prompts/summarise@staging", body={"variables": {"text": "the memo"}, "stream": True,
                                                              "stream_options": {"include_usage": True}},
                         cast_to=ChatCompletion, stream=True, stream_cls=openai.Stream[ChatCompletionChunk])
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0
    sent = last_sent(fake_upstream)
    assert sent["messages"] == [{"role": "user", "content": "In 3 bullets, summarise: the memo"}]  # the default n
    assert sent["temperature"] == 0.1 and sent["stream"] is True

    call(client, "summarise", variables={"text": "a"})  # no suffix: production, version 1
    assert last_sent(fake_upstream)["messages"][-1]["content"] == "Summarise a in 3 bullets"
    prompts.move_label(actor=author, prompt=prompt, label="production", version=v2)
    wait_for(lambda: (call(client, "summarise", variables={"text": "b"}) and
                      last_sent(fake_upstream)["messages"][-1]["content"] == "In 3 bullets, summarise: b"),
             what="the gateway to follow the moved label")

    # Usage per prompt and version, on the model that answered.
    def metered(version: int) -> int:
        return UsageEvent.objects.filter(prompt="summarise", prompt_version=version).count()

    wait_for(lambda: metered(1) >= 2 and metered(2) >= 2, what="the calls of both versions in the ledger")
    assert set(UsageEvent.objects.filter(prompt="summarise").values_list("alias", flat=True)) == {"fast-chat"}
    assert UsageEvent.objects.filter(prompt="summarise", streamed=True, prompt_version=2).exists()


@pytest.mark.parametrize(("reference", "body", "status", "param", "message"), [
    ("summarise", {"variables": {}}, 400, "variables.text", "Missing variable 'text'"),
    ("summarise", {"variables": {"text": 5}}, 400, "variables.text", "must be a string, not integer"),
    ("summarise", {"variables": {"text": "x", "n": "two"}}, 400, "variables.n", "must be an integer, not string"),
    ("summarise", {"variables": {"text": "x", "tone": "dry"}}, 400, "variables.tone", "Unknown variable 'tone'"),
    ("summarise", {"variables": ["x"]}, 400, "variables", "must be an object"),
    ("summarise", {"messages": []}, 400, "messages", "Unrecognized request argument"),
    ("summarise@canary", {"variables": {"text": "x"}}, 404, "prompt", "points at nothing"),
    ("summarise@3", {"variables": {"text": "x"}}, 404, "prompt", "Version 3 of summarise is not published"),
    ("summarise@9", {"variables": {"text": "x"}}, 404, "prompt", "has no version 9"),
    ("nothing", {"variables": {"text": "x"}}, 404, "prompt", "does not exist"),
    ("fast-chat", {"variables": {"text": "x"}}, 404, "prompt", "prompt API 'fast-chat' does not exist"),
])
def test_bad_input_is_refused_naming_what_is_wrong(published, reference, body, status, param, message):
    client, author, prompt, _ = published
    prompts.add_version(actor=author, prompt=prompt, template="Draft {{ text }}", variables=[{"name": "text"}],
                        alias="fast-chat")  # version 3: a draft
    wait_for(lambda: httpx.post(f"{client.base_url}prompts/summarise@3", json={},
                                headers={"authorization": f"Bearer {client.raw_key}"}).json()["error"]["message"]
             != "summarise has no version 3.", what="the gateway to see the draft")
    raw = httpx.post(f"{client.base_url}prompts/{reference}", json=body,
                     headers={"authorization": f"Bearer {client.raw_key}"})
    assert raw.status_code == status
    error = raw.json()["error"]
    assert error["param"] == param and message in error["message"]


def test_a_value_holding_template_syntax_is_sent_literally(published, fake_upstream):
    client, *_ = published
    call(client, "summarise@1", variables={"text": "{{ n }} and {% for x in y %}"})
    assert last_sent(fake_upstream)["messages"][-1]["content"] == "Summarise {{ n }} and {% for x in y %} in 3 bullets"


def test_an_application_not_subscribed_to_the_prompt_is_refused(published, gateway):
    refused = gateway.post("/prompts/summarise", key=gateway.other_key, json={"variables": {"text": "x"}})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "model_not_subscribed"
    client, *_ = published
    with pytest.raises(openai.BadRequestError, match="is a prompt API"):
        client.chat.completions.create(model="summarise", messages=[{"role": "user", "content": "hi"}])
    listed = {m.id for m in client.models.list()}
    assert "summarise" not in listed and "fast-chat" not in listed  # subscribed to the prompt, not the model
