"""Work is queued by kind, so a backlog of one kind never delays another, and each kind has a worker.

A worker that consumes only ``metering`` runs metering work with no other queue's worker; every queue is
consumed by some compose service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from django.conf import settings

from aiplatform.celery import app as celery_app
from aiplatform.tasks import touch_file

ROOT = Path(__file__).resolve().parents[2]
QUEUES = {q.name for q in settings.CELERY_TASK_QUEUES}


def queue_of(task_name: str) -> str:
    route = celery_app.amqp.router.route({}, task_name)
    return route["queue"].name


@pytest.mark.smoke
@pytest.mark.parametrize(("task", "queue"), [
    ("portal.drain_usage", "metering"),
    ("portal.record_gateway_report", "metering"),
    ("portal.rollup_usage_hourly", "housekeeping"),
    ("portal.purge_expired_files", "housekeeping"),
    ("gateway.purge_expired_responses", "housekeeping"),
    ("registry.sync_catalogues", "housekeeping"),
    ("portal.deliver_alert_webhook", "celery"),
])
def test_each_task_goes_to_the_queue_of_its_kind(task, queue):
    assert queue_of(task) == queue


def test_every_routed_queue_is_declared_and_every_task_is_known():
    celery_app.loader.import_default_modules()  # the apps' tasks modules, as a worker loads them
    registered = set(celery_app.tasks)
    for task, route in settings.CELERY_TASK_ROUTES.items():
        assert route["queue"] in QUEUES, task
        assert task in registered, f"{task} is routed but no such task exists"


def test_the_compose_file_runs_a_worker_for_every_queue():
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    consumed: set[str] = set()
    for service in services.values():
        command = service.get("command") or []
        if "worker" in command and "-Q" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
    assert consumed == QUEUES


@pytest.fixture
def metering_only_worker():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATA_DIR": str(settings.DATA_DIR)}
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "aiplatform", "worker", "--pool", "solo", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "metering"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_worker_of_the_metering_queue_alone_runs_metering_work(metering_only_worker, tmp_path):
    """Metering needs no other queue's worker. (That it never runs another queue's work is -Q's own
    promise; other tests' servers run workers of every queue beside this one, so it is not asserted here.)"""
    on_metering = tmp_path / "metering.txt"
    touch_file.apply_async(args=[str(on_metering)], queue="metering")
    deadline = time.monotonic() + 60  # a bound for a hung worker, not a performance claim
    while not on_metering.exists() and time.monotonic() < deadline and metering_only_worker.poll() is None:
        time.sleep(0.2)
    assert on_metering.exists(), metering_only_worker.stdout.read().decode() if metering_only_worker.poll() else ""
