"""/readyz: 200 when every dependency answers, 503 naming the one that does not."""

import pytest
from django.test import override_settings

from aiplatform.celery import app as celery_app

UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"  # the discard port: nothing listens there


@pytest.mark.smoke
@pytest.mark.django_db
def test_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_a_down_cache_is_named(client):
    down_cache = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": UNREACHABLE_REDIS}}
    with override_settings(CACHES=down_cache):
        response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["cache"]
    assert body["checks"]["cache"].startswith("down:") and body["checks"]["database"] == "ok"


@pytest.mark.django_db
def test_a_down_broker_is_named(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", UNREACHABLE_REDIS)
    monkeypatch.setenv("CELERY_BROKER_URL", UNREACHABLE_REDIS)  # Celery prefers the variable to its conf
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]


@pytest.mark.django_db
def test_a_down_database_is_named(client, monkeypatch):
    from django.db import connection

    def refuse(*args, **kwargs):
        raise connection.Database.OperationalError("connection refused")

    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "database" in response.json()["down"]


@pytest.mark.smoke
def test_healthz_does_not_touch_dependencies(client, monkeypatch):
    monkeypatch.setattr(celery_app.conf, "broker_url", UNREACHABLE_REDIS)
    assert client.get("/healthz").status_code == 200
