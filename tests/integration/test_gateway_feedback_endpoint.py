"""``POST /v1/feedback`` through the real server: an application rates its own call by the gateway's request id."""

from __future__ import annotations

import httpx
import openai
import pytest

from portal.models import Feedback, UsageEvent
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration

HI = [{"role": "user", "content": "Hi"}]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


@pytest.fixture
def answered(client) -> str:
    """The x-request-id of one chat call through the gateway (its ledger line may not be written yet)."""
    raw = client.chat.completions.with_raw_response.create(model="fast-chat", messages=HI)
    return raw.headers["x-request-id"]


def send(client, body: dict) -> httpx.Response:
    return client.post("/feedback", body=body, cast_to=httpx.Response)


def test_an_application_rates_its_own_call_right_after_it(client, answered, gateway):
    response = send(client, {"request_id": answered, "rating": "down", "category": "hallucination",
                             "comment": "Invented a citation"})

    assert response.status_code == 201
    body = response.json()
    assert body["object"] == "feedback"
    assert (body["request_id"], body["rating"], body["category"]) == (answered, "down", "hallucination")
    assert body["comment"] == "Invented a citation"
    assert body["status"] == "new"
    stored = Feedback.objects.get(pk=body["id"])
    assert stored.source == "api"
    assert stored.application.name == "checkout-bot"
    assert stored.alias == "fast-chat"
    assert str(stored.key_id) == gateway.key_id


def test_sending_again_updates_the_same_feedback(client, answered):
    first = send(client, {"request_id": answered, "rating": "up"}).json()
    second = send(client, {"request_id": answered, "rating": "down", "category": "incorrect"}).json()

    assert second["id"] == first["id"]
    assert Feedback.objects.get().rating == "down"


def test_another_teams_key_gets_404_like_an_unknown_id(gateway, answered):
    theirs = openai.OpenAI(base_url=gateway.url, api_key=gateway.other_key, max_retries=0)
    wait_for(lambda: UsageEvent.objects.filter(request_id=answered).exists(), what="the ledger line")

    with pytest.raises(openai.NotFoundError) as foreign:
        send(theirs, {"request_id": answered, "rating": "down", "category": "other"})
    with pytest.raises(openai.NotFoundError) as unknown:
        send(theirs, {"request_id": "0" * 32, "rating": "down", "category": "other"})

    assert foreign.value.code == unknown.value.code == "request_not_found"
    assert foreign.value.message.replace(answered, "ID") == unknown.value.message.replace("0" * 32, "ID")
    assert not Feedback.objects.exists()


@pytest.mark.parametrize(("body", "param"), [
    ({"request_id": "x", "rating": "meh"}, "rating"),
    ({"request_id": "x", "rating": "down", "category": "rude"}, "category"),
    ({"request_id": "x", "rating": "up", "comment": "x" * 2001}, "comment"),
    ({"request_id": "x", "rating": "up", "stars": 5}, "stars"),
    ({"request_id": 42, "rating": "up"}, "request_id"),
    ({"rating": "up"}, "request_id"),
])
def test_bad_input_is_a_400_naming_the_field(client, body, param):
    with pytest.raises(openai.BadRequestError) as caught:
        send(client, body)

    assert caught.value.status_code == 400
    assert caught.value.param == param


def test_a_bad_key_is_a_401(gateway, answered):
    response = httpx.post(gateway.url + "/feedback", json={"request_id": answered, "rating": "up"},
                          headers={"authorization": "Bearer sb-" + "x" * 40})

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"


def test_feedback_is_not_metered_as_a_call(client, answered):
    send(client, {"request_id": answered, "rating": "up"})
    later = client.chat.completions.with_raw_response.create(model="fast-chat", messages=HI).headers["x-request-id"]

    wait_for(lambda: UsageEvent.objects.filter(request_id=later).exists(), what="the later call's ledger line")
    assert UsageEvent.objects.count() == 2
