"""The deployment files describe the full stack (no Docker engine runs here, so their shape is checked)."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
def test_compose_runs_the_full_stack():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert services["web"]["command"] == ["bin/serve"]
    assert "worker" in services["worker"]["command"] and "beat" in services["beat"]["command"]
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"].startswith("redis://")
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"


@pytest.mark.smoke
def test_the_image_installs_the_pinned_runtime_lock():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "requirements/base.lock" in dockerfile and "FROM python:3.12" in dockerfile
    lock = (ROOT / "requirements/base.lock").read_text()
    for package in ("django==6.0.", "granian==", "celery==", "psycopg==", "channels-redis=="):
        assert package in lock
