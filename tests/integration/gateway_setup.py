"""Arranging a gateway test the way an operator would: `registry apply`, then `create_api_key`.

The fake upstream (bench/fake_upstream.py) runs as a real process on loopback; the gateway is
the real server of tests/servers.py; configuration reaches it through the database and the
config-version poll, as in production.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command

from tests.servers import BASE_DIR, free_port

UPSTREAM_KEY = "sk-upstream-secret-for-tests"
# The real server resolves `env:SB_TEST_UPSTREAM_KEY` in its own process, which inherits this.
os.environ.setdefault("SB_TEST_UPSTREAM_KEY", UPSTREAM_KEY)

REGISTRY = """
providers:
  - name: local-openai
    kind: openai-compatible
    base_url: {upstream}
    api_key: env:SB_TEST_UPSTREAM_KEY
models:
  - alias: fast-chat
    kind: chat
    status: approved
    approved_on: '2026-01-05'
    routes:
      - {{provider: local-openai, upstream_model: fake-model, weight: 100}}
    pricing: {{input_per_mtok: 1.0, output_per_mtok: 2.0}}
    card: {{summary: "The fake upstream.", use_cases: [testing], license: "none"}}
  - alias: embed-small
    kind: embeddings
    status: approved
    routes:
      - {{provider: local-openai, upstream_model: fake-embed, weight: 100}}
    pricing: {{input_per_mtok: 0.02}}
  - alias: old-chat
    kind: chat
    status: deprecated
    deprecated_on: '2026-06-01'
    sunset_on: '2099-12-31'
    replacement: fast-chat
    routes:
      - {{provider: local-openai, upstream_model: fake-model, weight: 100}}
  - alias: gone-chat
    kind: chat
    status: retired
    deprecated_on: '2025-01-01'
    retired_on: '2025-06-01'
    replacement: fast-chat
    routes:
      - {{provider: local-openai, upstream_model: fake-model, weight: 100}}
  - alias: broken-chat
    kind: chat
    status: approved
    routes:
      - {{provider: local-openai, upstream_model: fail-500, weight: 100}}
  - alias: busy-chat
    kind: chat
    status: approved
    routes:
      - {{provider: local-openai, upstream_model: fail-429, weight: 100}}
  - alias: other-team-chat
    kind: chat
    status: approved
    routes:
      - {{provider: local-openai, upstream_model: fake-model, weight: 100}}
"""

SUBSCRIBED = ["fast-chat", "embed-small", "old-chat", "gone-chat", "broken-chat", "busy-chat", "demo-chat", "demo-embed"]


@dataclass(frozen=True)
class Gateway:
    url: str  # the /v1 base URL, as SDKs take it
    key: str
    key_id: str
    other_key: str  # a key of another tenant, subscribed to other-team-chat only

    def get(self, path: str, key: str | None = None, **kwargs) -> httpx.Response:
        return httpx.get(self.url + path, headers={"authorization": f"Bearer {key or self.key}"}, **kwargs)

    def post(self, path: str, key: str | None = None, **kwargs) -> httpx.Response:
        headers = {"authorization": f"Bearer {key or self.key}", **kwargs.pop("headers", {})}
        return httpx.post(self.url + path, headers=headers, **kwargs)


@pytest.fixture(scope="session")
def fake_upstream():
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--port", str(port),
         "--log-level", "warning", "bench.fake_upstream:app"],
        cwd=BASE_DIR, env={**os.environ, "FAKE_STREAM_CHUNKS": "5"},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/v1/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    yield base + "/v1"
    process.terminate()
    process.wait(timeout=10)


def create_key(tenant: str, app: str, models: list[str]) -> dict:
    out = StringIO()
    call_command("create_api_key", "--tenant", tenant, "--app", app, "--models", ",".join(models), "--json", stdout=out)
    return json.loads(out.getvalue())


def wait_for(predicate, *, seconds: float = 10.0, what: str = "condition") -> None:
    """Poll until ``predicate()`` is true. A bound for a broken setup, not a performance claim."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def gateway(server_url, fake_upstream, tmp_path) -> Gateway:
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(REGISTRY.format(upstream=fake_upstream))
    call_command("seed_demo", stdout=StringIO())
    call_command("registry", "apply", str(registry_file), stdout=StringIO())
    mine = create_key("acme", "checkout-bot", SUBSCRIBED)
    theirs = create_key("globex", "their-bot", ["other-team-chat"])
    gw = Gateway(url=server_url + "/v1", key=mine["key"], key_id=str(mine["key_id"]), other_key=theirs["key"])
    wait_for(lambda: gw.get("/models").status_code == 200 and gw.get("/models", key=gw.other_key).status_code == 200,
             what="the gateway to load the new keys")
    return gw
