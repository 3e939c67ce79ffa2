"""OpenAI's Batch API through the real gateway and a real Celery worker, with the official SDK.

Upload a file, create a batch, poll it to its end, read the output and error files; every line goes through
the gateway (the submitting key's subscriptions, limits, budgets, metering) and is one usage event marked
with the batch, priced at the alias's batch discount.
"""

from __future__ import annotations

import time
from decimal import Decimal

import openai
import orjson
import pytest
from openai.types import Batch as SDKBatch

from portal.models import Batch, UsageEvent
from registry.models import ModelAlias
from tests.integration.gateway_setup import wait_for

pytestmark = pytest.mark.integration

FINAL = {"completed", "failed", "expired", "cancelled"}


def jsonl(items) -> bytes:
    return b"".join(orjson.dumps(item) + b"\n" for item in items)


def chat_line(i: int, model: str = "fast-chat", **extra) -> dict:
    return {"custom_id": f"chat-{i}", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": f"Question {i}"}], **extra}}


def strict_batch(raw: dict) -> SDKBatch:
    found = SDKBatch.model_validate(raw, strict=True)
    assert set(raw) <= set(SDKBatch.model_fields), set(raw) - set(SDKBatch.model_fields)
    return found


def run_to_end(client: openai.OpenAI, lines: bytes, endpoint: str = "/v1/chat/completions", *,
               seconds: float = 90, **create) -> SDKBatch:
    source = client.files.create(file=("lines.jsonl", lines), purpose="batch")
    raw = client.batches.with_raw_response.create(input_file_id=source.id, endpoint=endpoint,
                                                  completion_window="24h", **create)
    batch = strict_batch(orjson.loads(raw.http_response.content))
    assert batch.status == "validating" and batch.input_file_id == source.id
    return wait_until_final(client, batch.id, seconds=seconds)


def wait_until_final(client: openai.OpenAI, batch_id: str, *, seconds: float = 90) -> SDKBatch:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        raw = client.batches.with_raw_response.retrieve(batch_id)
        batch = strict_batch(orjson.loads(raw.http_response.content))
        if batch.status in FINAL:
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not end within {seconds}s: {batch.status}, {batch.request_counts}")


def lines_of(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [orjson.loads(line) for line in client.files.content(file_id).read().splitlines()]


@pytest.fixture
def client(gateway):
    return openai.OpenAI(base_url=gateway.url, api_key=gateway.key, max_retries=0)


@pytest.mark.smoke
def test_chat_and_embedding_batches_answer_every_line_once_metered_at_the_discount(client, gateway):
    ModelAlias.objects.filter(name="fast-chat").update(batch_discount_percent=50)
    from aiplatform import config_version

    config_version.bump("registry")
    chat = [chat_line(i) for i in range(48)] + [chat_line(48, "broken-chat"), chat_line(49, max_tokens=-1)]
    batch = run_to_end(client, jsonl(chat), metadata={"job": "nightly"},
                       output_expires_after={"anchor": "created_at", "seconds": 7200})
    assert batch.status == "completed" and batch.metadata == {"job": "nightly"}
    assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (50, 48, 2)
    assert batch.completed_at and batch.in_progress_at and batch.finalizing_at and batch.model == "fast-chat"

    for file_id in (batch.output_file_id, batch.error_file_id):  # kept as output_expires_after asked
        made = client.files.retrieve(file_id)
        assert made.purpose == "batch_output" and abs(made.expires_at - made.created_at - 7200) <= 1

    output = lines_of(client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted(f"chat-{i}" for i in range(48))
    for line in output:
        assert line["error"] is None and line["response"]["status_code"] == 200
        assert line["response"]["body"]["object"] == "chat.completion"
        assert line["id"] == line["response"]["request_id"] and line["id"].startswith("batch_req_")
    errors = {line["custom_id"]: line for line in lines_of(client, batch.error_file_id)}
    assert set(errors) == {"chat-48", "chat-49"}
    assert errors["chat-48"]["response"]["status_code"] == 502  # the upstream failed: the gateway's answer
    assert errors["chat-49"]["response"]["status_code"] == 400
    assert errors["chat-49"]["response"]["body"]["error"]["param"] == "max_tokens"

    embed = [{"custom_id": f"e{i}", "method": "POST", "url": "/v1/embeddings",
              "body": {"model": "embed-small", "input": f"text {i}"}} for i in range(10)]
    embedded = run_to_end(client, jsonl(embed), "/v1/embeddings")
    assert (embedded.status, embedded.request_counts.completed, embedded.error_file_id) == ("completed", 10, None)
    vectors = lines_of(client, embedded.output_file_id)
    assert all(line["response"]["body"]["data"][0]["object"] == "embedding" for line in vectors)

    # Every answered line is one usage event of the ledger, marked with its batch; none twice.
    wait_for(lambda: UsageEvent.objects.filter(batch_id__in=[batch.id, embedded.id]).count() == 59, seconds=30,
             what="the ledger to record every line")
    events = UsageEvent.objects.filter(batch_id=batch.id)
    assert sorted(events.values_list("request_id", flat=True)) == sorted(
        [line["id"] for line in output] + [errors["chat-48"]["id"]])  # the 400 never reached a model
    served = events.filter(status=200).first()
    # fast-chat costs $1 / $2 per million tokens; a batch line half of it.
    full = (Decimal(served.prompt_tokens) * 1 + Decimal(served.completion_tokens) * 2) / 1_000_000
    assert served.cost == full / 2
    stored = Batch.objects.get(pk=batch.id)
    assert stored.cost == sum(e.cost for e in events)
    assert client.batches.list().data[0].id == embedded.id


@pytest.mark.smoke
def test_a_malformed_file_fails_at_validating_with_the_lines_named_and_calls_nothing(client, gateway):
    bad = jsonl([chat_line(1), chat_line(1)])  # custom_id repeated on line 2
    bad += b"{not json\n"  # line 3
    bad += jsonl([{**chat_line(4), "url": "/v1/embeddings"},  # line 4
                  chat_line(5, "no-such-model"),  # line 5
                  chat_line(6, "other-team-chat"),  # line 6: another team's model
                  chat_line(7, "embed-small"),  # line 7: an embeddings model on the chat endpoint
                  chat_line(8, stream=True)])  # line 8
    batch = run_to_end(client, bad)
    assert batch.status == "failed" and batch.failed_at and batch.output_file_id is None
    found = {(e.line, e.code) for e in batch.errors.data}
    assert found == {(2, "duplicate_custom_id"), (3, "invalid_json_line"), (4, "mismatched_endpoint"),
                     (5, "model_not_found"), (6, "model_not_found"), (7, "mismatched_model"), (8, "invalid_request")}
    assert all(f"Line {e.line}" in e.message for e in batch.errors.data)
    time.sleep(1.5)  # one metering flush
    assert not UsageEvent.objects.filter(key_id=int(gateway.key_id)).exists()


def test_bad_requests_to_the_batch_endpoints_get_openai_errors(client, gateway):
    source = client.files.create(file=("lines.jsonl", jsonl([chat_line(1)])), purpose="batch")
    cases = [
        ({"input_file_id": source.id, "endpoint": "/v1/images", "completion_window": "24h"}, 400, "endpoint"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "1h"}, 400,
         "completion_window"),
        ({"input_file_id": "file-nope", "endpoint": "/v1/chat/completions", "completion_window": "24h"}, 404,
         "input_file_id"),
        ({"endpoint": "/v1/chat/completions", "completion_window": "24h"}, 400, "input_file_id"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
          "metadata": {"k": 1}}, 400, "metadata"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
          "surprise": True}, 400, "surprise"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
          "output_expires_after": {"anchor": "created_at", "seconds": 60}}, 400, "output_expires_after.seconds"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
          "output_expires_after": {"anchor": "last_active_at", "seconds": 3600}}, 400,
         "output_expires_after.anchor"),
        ({"input_file_id": source.id, "endpoint": "/v1/chat/completions", "completion_window": "24h",
          "output_expires_after": 3600}, 400, "output_expires_after"),
    ]
    for body, status, param in cases:
        answer = gateway.post("/batches", json=body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.json()["error"]["param"] == param, answer.text
    theirs = openai.OpenAI(base_url=gateway.url, api_key=gateway.other_key, max_retries=0)
    with pytest.raises(openai.NotFoundError):  # another team's file cannot feed a batch
        theirs.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h")
    mine = client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions", completion_window="24h")
    for attempt in (lambda: theirs.batches.retrieve(mine.id), lambda: theirs.batches.cancel(mine.id)):
        with pytest.raises(openai.NotFoundError):
            attempt()
    assert theirs.batches.list().data == []
    # A forged line credential is refused like any bad key.
    forged = gateway.post("/chat/completions", key=f"sbb-{mine.id}.1.{gateway.key_id}." + "0" * 64,
                          json=chat_line(1)["body"])
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_api_key"
    assert wait_until_final(client, mine.id).status == "completed"
    with pytest.raises(openai.ConflictError):
        client.batches.cancel(mine.id)


@pytest.mark.smoke
def test_the_teams_webhook_gets_the_batchs_end_signed_and_the_openai_sdk_verifies_it(client, gateway):
    from aiplatform.models import Tenant
    from portal.webhooks import create_alert_webhook
    from tests.portal.test_alert_webhooks import Receiver

    batches_only, alerts_only = Receiver(), Receiver()
    try:
        team = Tenant.objects.get(slug="acme")
        _, secret = create_alert_webhook(actor=None, tenant=team, url=batches_only.url,
                                         events=["batch.completed", "batch.failed"])
        create_alert_webhook(actor=None, tenant=team, url=alerts_only.url, events=["budget.threshold_crossed"])
        batch = run_to_end(client, jsonl(chat_line(i) for i in range(3)))
        wait_for(lambda: len(batches_only.requests) == 1, seconds=30, what="the webhook delivery")
        headers, body = batches_only.requests[0]
        event = client.webhooks.unwrap(body, headers, secret=secret)  # raises unless the signature holds
        assert (event.type, event.data.id, event.object) == ("batch.completed", batch.id, "event")
        assert orjson.loads(body)["data"]["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
        with pytest.raises(openai.InvalidWebhookSignatureError):
            client.webhooks.unwrap(body.replace(b"completed", b"cancelled"), headers, secret=secret)
        failed = run_to_end(client, b"{oops\n")
        wait_for(lambda: len(batches_only.requests) == 2, seconds=30, what="the second delivery")
        second = client.webhooks.unwrap(batches_only.requests[1][1], batches_only.requests[1][0], secret=secret)
        assert (second.type, second.data.id) == ("batch.failed", failed.id)
        assert alerts_only.requests == []  # it asked for budget alerts only
    finally:
        batches_only.close()
        alerts_only.close()


@pytest.mark.smoke
def test_responses_and_completions_lines_are_answered_in_their_own_shapes(client, gateway):
    responses = [{"custom_id": f"r{i}", "method": "POST", "url": "/v1/responses",
                  "body": {"model": "fast-chat", "input": f"Question {i}", "store": False}} for i in range(3)]
    answered = run_to_end(client, jsonl(responses), "/v1/responses")
    assert (answered.status, answered.request_counts.completed, answered.error_file_id) == ("completed", 3, None)
    output = lines_of(client, answered.output_file_id)
    assert sorted(line["custom_id"] for line in output) == ["r0", "r1", "r2"]
    for line in output:
        body = line["response"]["body"]
        assert body["object"] == "response" and body["status"] == "completed"
        assert body["output"][0]["content"][0]["text"]

    completions = [{"custom_id": f"c{i}", "method": "POST", "url": "/v1/completions",
                    "body": {"model": "fast-chat", "prompt": f"Once upon {i}", "max_tokens": 8}} for i in range(2)]
    completed = run_to_end(client, jsonl(completions), "/v1/completions")
    assert (completed.status, completed.request_counts.completed) == ("completed", 2)
    assert all(line["response"]["body"]["object"] == "text_completion"
               for line in lines_of(client, completed.output_file_id))
    wait_for(lambda: UsageEvent.objects.filter(batch_id__in=[answered.id, completed.id]).count() == 5, seconds=30,
             what="the ledger to record every line")
    # A line of another endpoint than the batch's is named at validating, whatever the two endpoints are.
    mixed = run_to_end(client, jsonl([responses[0], completions[0]]), "/v1/responses")
    assert mixed.status == "failed"
    assert [(e.line, e.code) for e in mixed.errors.data] == [(2, "mismatched_endpoint")]
