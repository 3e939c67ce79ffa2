"""The playground through the real server: a signed-in member's answer streams in pieces from the gateway,
a stopped answer cancels the call and is metered as far as it got, and every call lands in the ledger
under the person's own playground key and their team."""

from __future__ import annotations

import re
from io import StringIO

import httpx
import orjson
import pytest
from django.core.management import call_command

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from portal.models import ChatMessage, UsageEvent
from tests.conftest import PASSWORD
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration


def signed_in(server_url: str, email: str) -> httpx.Client:
    """An HTTP client with a session, signed in through the login form like a browser."""
    client = httpx.Client(base_url=server_url, timeout=30)
    form = client.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    done = client.post("/accounts/login/", data={"login": email, "password": PASSWORD, "csrfmiddlewaretoken": token},
                       headers={"referer": server_url + "/accounts/login/"})
    assert done.status_code == 302, done.text[:500]
    client.headers["x-csrftoken"] = client.cookies["csrftoken"]
    client.headers["referer"] = server_url + "/playground/"
    return client


def events(response: httpx.Response):
    """(name, data) for each server-sent event of a playground stream."""
    name = None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, orjson.loads(line[6:])


@pytest.fixture
def member(server_url, make_member):
    call_command("seed_demo", stdout=StringIO())
    return make_member(Tenant.objects.get(slug="demo"), TenantRole.DEVELOPER, email="pat@example.com")


def test_an_answer_streams_in_pieces_and_lands_in_the_ledger_under_the_person(server_url, member):
    client = signed_in(server_url, member.email)
    assert "demo-chat" in client.get("/playground/").text

    with client.stream("POST", "/playground/send", data={"team": "demo", "alias": "demo-chat",
                                                          "content": "Tell me about the platform"}) as response:
        assert response.status_code == 200
        received = list(events(response))

    names = [name for name, _ in received]
    assert names[0] == "conversation"
    assert names.count("delta") >= 3  # it arrived in pieces, not at once
    assert names[-1] == "done"
    done = received[-1][1]
    assert "You said" in done["html"]
    assert done["completion_tokens"] > 0
    answer = ChatMessage.objects.get(role="assistant")
    assert answer.request_id == done["request_id"]

    wait_for(lambda: UsageEvent.objects.filter(request_id=answer.request_id).exists(), what="the ledger line")
    line = UsageEvent.objects.select_related("key", "application").get(request_id=answer.request_id)
    assert line.key.created_by == member
    assert line.application.is_playground
    assert line.tenant.slug == "demo"
    assert line.completion_tokens == done["completion_tokens"]


def test_stopping_cancels_the_call_and_keeps_and_meters_what_arrived(server_url, member):
    client = signed_in(server_url, member.email)
    long_prompt = " ".join(f"word{i}" for i in range(300))  # the demo echoes it: about 8 s at 25 ms a piece

    with client.stream("POST", "/playground/send", data={"team": "demo", "alias": "demo-chat",
                                                          "content": long_prompt}) as response:
        deltas = 0
        for name, _ in events(response):
            deltas += name == "delta"
            if deltas == 3:
                break  # the person pressed Stop: the page drops the connection

    wait_for(lambda: ChatMessage.objects.filter(role="assistant").exists(), what="the stopped answer to be kept")
    answer = ChatMessage.objects.get(role="assistant")
    assert answer.stopped
    assert 0 < len(answer.content) < len(long_prompt)
    wait_for(lambda: UsageEvent.objects.filter(request_id=answer.request_id).exists(), what="the ledger line")
    line = UsageEvent.objects.get(request_id=answer.request_id)
    assert line.status == 499  # the caller (the playground) closed it
    assert 0 < line.completion_tokens < 300


def test_a_comparison_streams_each_model_and_takes_a_vote(server_url, member):
    client = signed_in(server_url, member.email)
    from registry import services as registry_services
    from registry.models import Endpoint

    second = registry_services.create_alias(actor=None, name="demo-chat-b", status="approved")
    registry_services.set_routes(actor=None, alias=second, routes=[
        registry_services.RouteSpec(endpoint=Endpoint.objects.get(upstream_model="demo-chat-1"))])
    call_command("create_api_key", "--tenant", "demo", "--app", "demo-app", "--models", "demo-chat-b",
                 stdout=StringIO())  # the team's own application gets it; the playground follows

    started = client.post("/playground/compare/start", data={"team": "demo", "alias": ["demo-chat", "demo-chat-b"],
                                                              "prompt": "Which of you is better?"})
    assert started.status_code == 200, started.text
    for slot in started.json()["slots"]:
        with client.stream("POST", slot["stream"]) as response:
            received = list(events(response))
        assert received[-1][0] == "done"
        assert "You said" in received[-1][1]["html"]

    voted = client.post(f"/playground/compare/{started.json()['id']}/vote", data={"slot": "1"})
    assert "You voted for demo-chat-b" in voted.text
