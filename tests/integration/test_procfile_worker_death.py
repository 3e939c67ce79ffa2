"""`make run`'s Procfile under honcho: a killed worker stops the whole platform, loudly, leaving nothing behind.

With the worker running beat embedded (``-B``), a killed worker left its beat child alive holding
the output pipe, so honcho never noticed: the web server went on serving with nobody consuming
the usage batches. Now beat is its own Procfile process, and when any process exits honcho stops
the others and exits non-zero, naming the process that stopped.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from tests.servers import BASE_DIR, _server_env, free_port

pytestmark = pytest.mark.integration

HONCHO = BASE_DIR / ".venv" / "bin" / "honcho"


def _wait_for(pattern: str, log: Path, process: subprocess.Popen, seconds: float = 60) -> re.Match:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := re.search(pattern, log.read_text(errors="replace")):
            return found
        if process.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(f"{pattern!r} did not appear in honcho's output:\n{log.read_text(errors='replace')[-4000:]}")


def _celery_process(pid: int) -> int:
    """The Celery worker honcho started as ``pid`` (the process itself, or its child under a shell)."""
    if b"celery" in Path(f"/proc/{pid}/cmdline").read_bytes():
        return pid
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return next(int(child) for child in children if b"celery" in Path(f"/proc/{child}/cmdline").read_bytes())


def _kill_everything(honcho: subprocess.Popen, log: Path) -> None:
    """What this test started, and only that: honcho starts each process in a session of its own."""
    for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text(errors="replace")):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pid), signal.SIGKILL)
    if honcho.poll() is None:
        honcho.kill()
    honcho.wait()


def test_a_killed_worker_stops_the_platform(transactional_db):
    if not HONCHO.exists():
        pytest.skip("honcho is installed by make install")
    with tempfile.TemporaryDirectory(prefix="switchboard-honcho-") as tmp:
        log_path = Path(tmp) / "honcho.log"
        env = _server_env(Path(tmp), free_port(), {"LOG_FORMAT": "console"})
        with log_path.open("wb") as log:
            honcho = subprocess.Popen([str(HONCHO), "-f", "Procfile", "start"], cwd=BASE_DIR, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            worker_pid = int(_wait_for(r"worker\.1 started \(pid=(\d+)\)", log_path, honcho).group(1))
            _wait_for(r"celery@\S+ ready", log_path, honcho)

            os.kill(_celery_process(worker_pid), signal.SIGKILL)  # as the OOM killer would

            try:
                returncode = honcho.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pytest.fail(f"honcho kept running without its worker:\n{log_path.read_text()[-4000:]}")
        finally:
            _kill_everything(honcho, log_path)
        output = log_path.read_text(errors="replace")
    assert returncode != 0
    assert "worker.1 stopped" in output
    assert "web.1 stopped" in output
    assert "beat.1 stopped" in output
