"""No answered call is ever left out of the ledger, whatever is killed with SIGKILL and when.

A gateway process under load and the worker writing the ledger are killed (-9) and restarted; the
ledger then holds every call the client saw answered exactly once, and the rollup equals the ledger.
The same test runs in the full stack (Redis stream + consumer group) and, in the smoke run, in the
embedded mode (append-only journal), since the server inherits the test run's configuration.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.db import connection

from portal.models import UsageEvent
from tests.integration.gateway_setup import REGISTRY, wait_for
from tests.servers import BASE_DIR, _server_env, free_port

pytestmark = [pytest.mark.integration, pytest.mark.smoke]

HELLO = {"model": "fast-chat", "messages": [{"role": "user", "content": "Hi"}]}


class Stack:
    """A gateway (granian, two workers) and a Celery worker on one data directory, each killable with -9."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.env = _server_env(data_dir, self.port, {"WEB_CONCURRENCY": "2", "USAGE_STREAM_CLAIM_IDLE_SECONDS": "1",
                                                     "GATEWAY_METER_FLUSH_SECONDS": "0.2"})
        self.log = (data_dir / "stack.log").open("ab")
        self.gateway: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start_gateway(self) -> None:
        # A killed granian's workers may hold the listening socket a moment after the parent is reaped,
        # and bin/serve refuses a busy port: wait until the port is free again, as an operator would.
        wait_for(lambda: _port_is_free(self.port), seconds=15, what=f"port {self.port} to be free")
        self.gateway = subprocess.Popen([str(BASE_DIR / "bin" / "serve")], cwd=BASE_DIR, env=self.env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_for(lambda: self.gateway.poll() is not None or _answers(self.url + "/healthz"), seconds=60,
                     what="the gateway to start")
        except AssertionError:
            pass  # said below, with the stack's log
        self.log.flush()
        if self.gateway.poll() is not None or not _answers(self.url + "/healthz"):
            # Say why (a port still held after the kill, a slow start): the stack's own log has it.
            tail = (self.data_dir / "stack.log").read_text(errors="replace")[-3000:]
            raise AssertionError(f"the gateway did not start (exit {self.gateway.poll()}):\n{tail}")

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "aiplatform", "worker", "--pool", "solo", "--loglevel", "WARNING",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=BASE_DIR, env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def kill(process: subprocess.Popen | None) -> None:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)  # the whole group: granian's workers too
            process.wait(timeout=10)

    def stop(self) -> None:
        self.kill(self.gateway)
        self.kill(self.worker)
        self.log.close()


def _port_is_free(port: int) -> bool:
    """bin/serve's own probe: can the address be bound (a TIME_WAIT leftover does not count)?"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def _load(url: str, key: str, seconds: float, answered: list[str]) -> None:
    """Steady traffic at concurrency 8 for ``seconds``; collects the request ids of answered calls."""
    deadline = time.monotonic() + seconds

    async def caller(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                response = await client.post(url + "/v1/chat/completions", json=HELLO,
                                             headers={"authorization": f"Bearer {key}"})
            except httpx.TransportError:  # the gateway was killed under us: not answered
                await asyncio.sleep(0.05)
                continue
            if response.status_code == 200:
                answered.append(response.headers["x-request-id"])

    async with httpx.AsyncClient(timeout=10) as client:
        await asyncio.gather(*(caller(client) for _ in range(8)))


def test_sigkill_of_the_gateway_and_the_worker_loses_no_answered_call(server_url, fake_upstream, tmp_path):
    registry = tmp_path / "registry.yaml"
    registry.write_text(REGISTRY.format(upstream=fake_upstream))
    call_command("seed_demo", stdout=StringIO())
    call_command("registry", "apply", str(registry), stdout=StringIO())
    out = StringIO()
    call_command("create_api_key", "--tenant", "acme", "--app", "load", "--models", "fast-chat", "--json",
                 "--plan", "premium", stdout=out)
    key = json.loads(out.getvalue())["key"]

    answered: list[str] = []
    with tempfile.TemporaryDirectory(prefix="switchboard-lossless-") as tmp:
        stack = Stack(Path(tmp))
        try:
            stack.start_gateway()
            stack.start_worker()
            wait_for(lambda: httpx.get(stack.url + "/v1/models", headers={"authorization": f"Bearer {key}"})
                     .status_code == 200, what="the key to load")

            async def scenario() -> None:
                load = asyncio.create_task(_load(stack.url, key, 9.0, answered))
                for _ in range(3):  # the worker, mid-batch: killed and restarted three times
                    await asyncio.sleep(0.8)
                    stack.kill(stack.worker)
                    stack.start_worker()
                await asyncio.sleep(0.5)
                stack.kill(stack.gateway)  # and a gateway under load
                await asyncio.to_thread(stack.start_gateway)
                await load

            asyncio.run(scenario())
            assert len(answered) > 50, "the load produced too few answered calls to mean anything"
            connection.close()  # see the worker's commits from here on
            wait_for(lambda: UsageEvent.objects.filter(request_id__in=answered).count() == len(set(answered)),
                     seconds=60, what="every answered call in the ledger")
        finally:
            stack.stop()
    assert len(answered) == len(set(answered))
    # Exactly once: the gateway's request id is the ledger's unique key, and nothing else was written twice.
    assert UsageEvent.objects.filter(request_id__in=answered).count() == len(answered)
    from portal import rollups

    first, last = (UsageEvent.objects.order_by(f).values_list("occurred_at", flat=True).first()
                   for f in ("occurred_at", "-occurred_at"))
    since, until = rollups.floor(first, rollups.HOUR), rollups.floor(last, rollups.HOUR) + rollups.STEP[rollups.HOUR]
    for granularity in rollups.GRANULARITIES:
        rollups.rollup_period(since, until, granularity)
    assert rollups.reconcile(since, until, repair=False).consistent
