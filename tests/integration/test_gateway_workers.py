"""The full stack serves with one gateway worker process per core, and a change is seen at once by every one."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.integration.gateway_setup import create_key
from tests.servers import start_server

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not settings.REDIS_URL, reason="the embedded mode runs one worker by design")]

CALL = {"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]}


def _workers_of(pid: int) -> list[int]:
    """The child processes of ``pid`` (granian's workers under its main process)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def test_without_web_concurrency_there_is_one_worker_per_core(gateway):
    with start_server(worker=False, env={"WEB_CONCURRENCY": ""}) as server:
        assert len(_workers_of(server.process.pid)) == len(os.sched_getaffinity(0))


def test_a_key_created_a_moment_ago_works_at_once_on_every_worker(gateway):
    with start_server(worker=False, env={"WEB_CONCURRENCY": "2"}) as server:
        assert len(_workers_of(server.process.pid)) == 2
        key = create_key("acme", "fresh-bot", ["fast-chat"])["key"]
        # No wait for the workers' next poll: a worker that does not know the key checks the configuration
        # before refusing it. Each call opens its own connection, so the calls spread over both workers.
        codes = [httpx.post(server.base_url + "/v1/chat/completions", json=CALL,
                            headers={"authorization": f"Bearer {key}", "connection": "close"}).status_code
                 for _ in range(20)]
    assert codes == [200] * 20
