"""Background jobs run in both modes: a real Celery worker process consumes a queued task.

In the embedded mode the broker is a folder (kombu's file-system transport), in the full
stack it is Redis; the test sends through whichever the settings chose.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from aiplatform.tasks import touch_file

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATA_DIR": str(settings.DATA_DIR)}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "aiplatform", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "celery"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.mark.smoke
def test_a_queued_task_is_run_by_the_worker(worker, tmp_path):
    proof = tmp_path / "proof.txt"
    touch_file.delay(str(proof))

    deadline = time.monotonic() + 60  # a bound for a hung worker, not a performance claim
    while not proof.exists() and time.monotonic() < deadline and worker.poll() is None:
        time.sleep(0.2)

    assert worker.poll() is None, worker.stdout.read().decode()
    assert proof.exists(), f"the worker did not run the task via {settings.CELERY_BROKER_URL}"
