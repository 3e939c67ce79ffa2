"""What the routing and shadow-traffic tests share: the steerable fake upstreams, and one test's registry and key.

``upstreams`` (a module-scoped fixture) runs tests/integration/routing_upstream.py with granian; ``Setup``
applies a registry file whose providers point at named upstreams of it (or at a dead port) and creates a
key, as an operator would, then waits until the gateway serves them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import httpx
import openai
import pytest
from django.core.management import call_command

from aiplatform.models import Tenant
from aiplatform.services import create_tenant
from tests.integration.gateway_setup import create_key, wait_for
from tests.servers import BASE_DIR, free_port

HELLO = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="module")
def upstreams():
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "granian"), "--interface", "asgi", "--port", str(port),
         "--log-level", "warning", "tests.integration.routing_upstream:app"],
        cwd=BASE_DIR, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: _answers(base + "/_control/probe"), seconds=30, what="the fake upstreams")
    yield Upstreams(base)
    # The whole group, granian's worker too (a kill of the parent alone leaves the worker serving for ever);
    # no graceful stop, since a "hang" upstream holds connections open.
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


class Upstreams:
    def __init__(self, base: str) -> None:
        self.base = base

    def url(self, name: str) -> str:
        return f"{self.base}/u/{name}/v1"

    def set(self, name: str, **behaviour) -> None:
        httpx.post(f"{self.base}/_control/{name}", json=behaviour).raise_for_status()

    def calls(self, name: str) -> int:
        return httpx.get(f"{self.base}/_control/{name}").json()["calls"]

    def most_at_once(self, name: str) -> int:
        """The most chat calls the upstream answered at the same time since it was set."""
        return httpx.get(f"{self.base}/_control/{name}").json()["most_at_once"]

    def last_request(self, name: str) -> dict | None:
        """The body the upstream last received (None: it was not called since it was set)."""
        return httpx.get(f"{self.base}/_control/{name}").json()["last_request"]


class Setup:
    """One test's registry and key, applied as an operator would."""

    def __init__(self, server, upstreams: Upstreams, tmp_path: Path, name: str) -> None:
        self.server, self.upstreams, self.tmp_path, self.name = server, upstreams, tmp_path, name

    def apply(self, models_yaml: str, *providers: str, dead: tuple[str, ...] = (), alias_names: tuple[str, ...],
              regions: dict[str, str] | None = None, more_yaml: str = ""):
        """``regions``: a provider's region by name; ``more_yaml``: further top-level sections (``policies:``)."""
        lines = ["providers:"]
        for provider in providers:
            url = f"http://127.0.0.1:{free_port()}/v1" if provider in dead else self.upstreams.url(self.up(provider))
            lines += [f"  - name: {provider}", "    kind: openai-compatible", f"    base_url: {url}",
                      "    api_key: env:SB_TEST_UPSTREAM_KEY"]
            if regions and provider in regions:
                lines.append(f"    region: {regions[provider]}")
            self.upstreams.set(self.up(provider))  # ok, no calls yet
        text = "\n".join(lines) + "\nmodels:\n" + models_yaml + more_yaml
        path = self.tmp_path / "registry.yaml"
        path.write_text(text)
        if not Tenant.objects.filter(slug="acme").exists():  # the team the key is for; a policy may name it
            create_tenant(actor=None, slug="acme", name="Acme")
        call_command("registry", "apply", str(path), stdout=StringIO())
        created = create_key("acme", f"{self.name}-app", list(alias_names))
        self.key, self.key_id = created["key"], int(created["key_id"])
        self.client = openai.OpenAI(base_url=self.server.url("/v1"), api_key=self.key, max_retries=0)
        wait_for(lambda: self.get("/v1/models").status_code == 200
                 and {m["id"] for m in self.get("/v1/models").json()["data"]} >= set(alias_names),
                 what="the gateway to load the key and the aliases")
        return self

    def up(self, provider: str) -> str:
        return f"{self.name}-{provider}"

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.server.url(path), headers={"authorization": f"Bearer {self.key}"})

    def chat(self, alias: str, **extra) -> httpx.Response:
        return httpx.post(self.server.url("/v1/chat/completions"), headers={"authorization": f"Bearer {self.key}"},
                          json={"model": alias, "messages": HELLO, **extra}, timeout=30)
