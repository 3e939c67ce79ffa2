"""Every start of the real server sees what changes after it, whole, even when a reload loads a tokenizer.

Issue 13, item 6. The poller was thought to fall asleep for good in about one start in three when a reload
loaded a tokenizer. It never slept: the reload read the routing table, spent about a second loading the
tokenizer its new endpoints count with, and only then read the keys. A key created meanwhile was in the
snapshot while the registry change committed before it was not, and the snapshot was labelled with the
versions from before both, so the next poll mended it; a test that waited for the key and then looked for
the alias failed in that window. Now the snapshot's rows are read as of one set of versions (read again when
a change committed during the read), and tokenizers load afterwards, so a snapshot that has a change has
every change committed before it.

Each start: an empty database, then (A) models whose endpoints count with o200k and cl100k, which the process
has not loaded, and a first key, in one commit; (B) a model added while that reload is under way; (C) a key for
that model. Every snapshot the server logged must be whole (the second key only with the model added before
it), and the second key must see and call its model.
"""

from __future__ import annotations

import json
import subprocess
import time
from io import StringIO
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.db import transaction

from aiplatform.models.config_version import ConfigVersion
from tests.integration.gateway_setup import create_key
from tests.servers import BASE_DIR, RealServer, _server_env, _stop, _wait_until_healthy, free_port

pytestmark = [pytest.mark.integration, pytest.mark.smoke]

STARTS = 8
POLL_SECONDS = "0.05"  # the reload of (A) starts at once, so (B) and (C) land while it loads the tokenizers

PROVIDERS = """
providers:
  - {name: demo-o200k, kind: demo}
  - {name: demo-cl100k, kind: demo, config: {count_as: gpt-4}}
"""
MODEL = """
  - alias: {alias}
    kind: chat
    status: approved
    routes: [{{provider: {provider}, upstream_model: {upstream}, weight: 100}}]
"""
FIRST = PROVIDERS + "models:" + MODEL.format(alias="early-chat", provider="demo-o200k", upstream="o200k-model") \
    + MODEL.format(alias="early-cl100k", provider="demo-cl100k", upstream="cl100k-model")
SECOND = FIRST + MODEL.format(alias="late-chat", provider="demo-o200k", upstream="o200k-model")


def _versions() -> dict[str, int]:
    return dict(ConfigVersion.objects.values_list("namespace", "version"))


def _snapshots(server: RealServer) -> list[dict]:
    """Every snapshot the server swapped in, as it logged them (versions, number of aliases and of keys)."""
    return [event for event in (json.loads(line) for line in server.log().splitlines() if line.startswith("{"))
            if event.get("event") == "gateway_config_loaded"]


def _serve(data_dir: Path, log_path: Path) -> RealServer:
    """``bin/serve`` on the test database, without collectstatic (no page is rendered) or a worker."""
    port = free_port()
    env = _server_env(data_dir, port, {"GATEWAY_CONFIG_POLL_SECONDS": POLL_SECONDS})
    with log_path.open("wb") as log:
        process = subprocess.Popen([str(BASE_DIR / "bin" / "serve")], cwd=BASE_DIR, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    server = RealServer(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, log_path=log_path, process=process)
    try:
        _wait_until_healthy(server)
    except BaseException:
        _stop(process)
        raise
    return server


def _one_start(server: RealServer, files: Path, n: int) -> list[str]:
    """What went wrong in this start (nothing: an empty list)."""
    first, second = files / "first.yaml", files / "second.yaml"
    with transaction.atomic():  # (A), one commit that moves both parts: its reload reads both, and loads the tokenizers
        call_command("registry", "apply", str(first), stdout=StringIO())
        create_key("acme", f"early-{n}", ["early-chat"])
    time.sleep(0.15)  # three polls: that reload has begun, and loads the tokenizers for about half a second
    call_command("registry", "apply", str(second), stdout=StringIO())  # (B)
    key = create_key("acme", f"late-{n}", ["late-chat"])["key"]  # (C)
    final = _versions()

    problems, listed = [], None
    headers = {"authorization": f"Bearer {key}"}
    deadline = time.monotonic() + 10  # a bound for a broken server, not a performance claim
    while time.monotonic() < deadline:
        answer = httpx.get(server.url("/v1/models"), headers=headers, timeout=5)
        if answer.status_code == 200:
            listed = [m["id"] for m in answer.json()["data"]]
            break
        time.sleep(0.05)
    if listed != ["late-chat"]:
        problems.append(f"the key created after start was never served whole: /v1/models listed {listed}")
    else:
        call = httpx.post(server.url("/v1/chat/completions"), headers=headers, timeout=10,
                          json={"model": "late-chat", "messages": [{"role": "user", "content": "Hi"}]})
        if call.status_code != 200:
            problems.append(f"the key could not call late-chat: {call.status_code} {call.text[:300]}")

    snapshots = _snapshots(server)
    if not snapshots or snapshots[-1]["versions"] != final:
        problems.append(f"the server never loaded the last change {final}: it logged {snapshots}")
    torn = [s for s in snapshots if s["keys"] == 2 and s["aliases"] != 3]
    if torn:
        problems.append(f"snapshots with the key but not the model added before it: {torn}")
    return problems


@pytest.mark.django_db(transaction=True)
def test_every_start_sees_a_later_change_whole_while_a_reload_loads_a_tokenizer(tmp_path):
    files = tmp_path / "registry"
    files.mkdir()
    (files / "first.yaml").write_text(FIRST)
    (files / "second.yaml").write_text(SECOND)
    failed = {}
    for n in range(STARTS):
        data_dir = tmp_path / f"start-{n}"
        data_dir.mkdir()
        server = _serve(data_dir, data_dir / "server.log")
        try:
            if problems := _one_start(server, files, n):
                failed[n] = problems
        finally:
            _stop(server.process)
        call_command("flush", "--no-input", stdout=StringIO())  # the next start begins empty again

    assert not failed, f"{len(failed)} of {STARTS} starts went wrong: {json.dumps(failed, indent=1)}"
