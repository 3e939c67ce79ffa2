"""Batches that do not simply run through: a worker SIGKILLed mid-batch, a cancel, a budget that runs out.

A server of their own with a short runner lease (``BATCH_LEASE_SECONDS=3``), so a killed runner is replaced
within seconds, and the steerable upstreams, which count the calls they get: "exactly once" is checked
where it matters, at the model.
"""

from __future__ import annotations

import os
import signal
import time
from decimal import Decimal

import pytest

from portal import services
from portal.models import ApiKey, Batch, UsageEvent
from tests.integration.gateway_setup import wait_for
from tests.integration.routing_setup import Setup, upstreams  # noqa: F401  (fixture)
from tests.integration.test_gateway_batches import chat_line, jsonl, lines_of, wait_until_final
from tests.servers import start_server

pytestmark = [pytest.mark.integration, pytest.mark.smoke]

MODELS = """
  - alias: batch-chat
    kind: chat
    status: approved
    routes:
      - {provider: p1, upstream_model: m, weight: 100}
    pricing: {input_per_mtok: 10000, output_per_mtok: 10000}
  - alias: capped-chat
    kind: chat
    status: approved
    routes:
      - {provider: p1, upstream_model: m2, weight: 100, max_in_flight: 2}
"""


_replacements = []  # workers a test started in place of a killed one; they serve the module's other tests


@pytest.fixture(scope="module")
def batch_server(django_db_setup):
    # A broker of its own (the file-system one, in its DATA_DIR): on the shared Redis broker the session's other
    # server's worker could take this server's batch and write its files where this server never looks.
    with start_server(env={"BATCH_LEASE_SECONDS": "3", "BATCH_CONCURRENCY": "2",
                           "CELERY_BROKER_URL": "filesystem://"}) as server:
        yield server
        for worker in _replacements:
            worker.terminate()
            worker.wait(timeout=15)


@pytest.fixture
def setup(batch_server, upstreams, tmp_path, transactional_db, request):  # noqa: F811
    return Setup(batch_server, upstreams, tmp_path, request.node.name[:20]).apply(
        MODELS, "p1", alias_names=("batch-chat", "capped-chat"))


def start(setup: Setup, lines: int, model: str = "batch-chat", **body) -> str:
    source = setup.client.files.create(
        file=("in.jsonl", jsonl(chat_line(i, model, **body) for i in range(lines))), purpose="batch")
    return setup.client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                       completion_window="24h").id


def answered(batch_id: str) -> int:
    batch = Batch.objects.get(pk=batch_id)
    return batch.completed + batch.failed


def test_a_worker_killed_mid_batch_is_replaced_and_every_line_is_answered_and_metered_once(setup, batch_server):
    setup.upstreams.set(setup.up("p1"), delay_ms=150)
    batch_id = start(setup, 30)
    wait_for(lambda: answered(batch_id) >= 6, seconds=60, what="the batch to be under way")
    os.killpg(batch_server.worker.pid, signal.SIGKILL)  # the runner (and the ledger's consumer) die at once
    batch_server.worker.wait(timeout=10)
    killed_at = answered(batch_id)
    _replacements.append(batch_server.start_worker())
    batch = wait_until_final(setup.client, batch_id, seconds=120)
    assert batch.status == "completed" and batch.request_counts.completed == 30
    assert killed_at < 30  # it really was killed mid-batch
    output = lines_of(setup.client, batch.output_file_id)
    assert sorted(line["custom_id"] for line in output) == sorted(f"chat-{i}" for i in range(30))
    assert setup.upstreams.calls(setup.up("p1")) == 30  # no line reached the model twice
    wait_for(lambda: UsageEvent.objects.filter(batch_id=batch_id).count() == 30, seconds=30,
             what="the ledger to record every line")
    time.sleep(1.5)  # a flush more: nothing else arrives
    assert UsageEvent.objects.filter(batch_id=batch_id).count() == 30


def test_cancelling_a_running_batch_stops_it_with_what_was_answered(setup):
    setup.upstreams.set(setup.up("p1"), delay_ms=200)
    batch_id = start(setup, 40)
    wait_for(lambda: answered(batch_id) >= 2, seconds=60, what="the batch to be under way")
    cancelling = setup.client.batches.cancel(batch_id)
    assert cancelling.status in ("cancelling", "cancelled") and cancelling.cancelling_at
    batch = wait_until_final(setup.client, batch_id)
    assert batch.status == "cancelled" and batch.cancelled_at
    counts = batch.request_counts
    assert counts.total == 40 and 2 <= counts.completed < 40 and counts.completed + counts.failed == 40
    assert len(lines_of(setup.client, batch.output_file_id)) == counts.completed
    stopped = lines_of(setup.client, batch.error_file_id)
    assert len(stopped) == counts.failed and {line["error"]["code"] for line in stopped} == {"batch_cancelled"}
    time.sleep(0.5)
    assert setup.upstreams.calls(setup.up("p1")) == counts.completed  # nothing was called after the cancel ended


def test_a_budget_that_runs_out_mid_batch_stops_the_remaining_lines(setup):
    key = ApiKey.objects.get(pk=setup.key_id)
    services.set_limits(actor=None, owner=key, values={"cost_per_day": Decimal("2.00"), "budget_mode": "strict"})
    wait_for(lambda: "cost_per_day" in setup.get("/v1/usage").text, what="the gateway to load the budget")
    batch_id = start(setup, 20, max_tokens=5)
    batch = wait_until_final(setup.client, batch_id)
    assert batch.status == "completed"
    counts = batch.request_counts
    assert counts.total == 20 and 1 <= counts.completed < 20 and counts.completed + counts.failed == 20
    errors = lines_of(setup.client, batch.error_file_id)
    assert len(errors) == counts.failed
    for line in errors:  # refused by the gateway, or not sent at all once the budget was spent
        code = line["error"]["code"] if line["error"] else line["response"]["body"]["error"]["code"]
        assert code == "budget_exceeded", line
    wait_for(lambda: UsageEvent.objects.filter(batch_id=batch_id, status=200).count() == counts.completed,
             seconds=30, what="the ledger")
    spent = sum(UsageEvent.objects.filter(batch_id=batch_id).values_list("cost", flat=True))
    assert 0 < spent <= Decimal("2.00")  # a strict budget, never exceeded by a batch either


def test_a_batch_takes_only_its_share_of_an_endpoints_capacity_and_live_calls_get_the_rest(setup):
    setup.upstreams.set(setup.up("p1"), delay_ms=200)
    batch_id = start(setup, 8, "capped-chat")  # 2 lines at a time, but the endpoint takes 2 calls, batches 1 of them
    wait_for(lambda: answered(batch_id) >= 3, seconds=60, what="the batch to be under way")
    assert setup.upstreams.most_at_once(setup.up("p1")) == 1
    live = setup.chat("capped-chat")  # while the batch runs, a live call still finds room
    assert live.status_code == 200, live.text
    batch = wait_until_final(setup.client, batch_id)
    assert (batch.status, batch.request_counts.completed) == ("completed", 8)
