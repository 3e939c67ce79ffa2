"""/readyz carries the gateway's view of each endpoint (circuit state, error rate, latency) under "endpoints",
beside the unchanged checks; an open circuit is detail, not unreadiness."""

from __future__ import annotations

import asyncio
import random

import pytest
import redis
from django.conf import settings

from gateway.routing import report
from gateway.routing.health import EndpointHealth
from gateway.routing.inflight import InflightCaps


@pytest.fixture
def open_endpoint(monkeypatch):
    health = EndpointHealth()
    monkeypatch.setattr(report, "health", health)
    monkeypatch.setattr(report, "caps", InflightCaps())
    endpoint_id = random.randint(10**8, 10**9)
    for _ in range(5):
        health.record(endpoint_id, ok=False)
    asyncio.run(health.sync())
    yield endpoint_id
    if settings.REDIS_URL:
        with redis.Redis.from_url(settings.REDIS_URL) as client:
            client.delete(f"sb:cb:{endpoint_id}", f"sb:cb:{endpoint_id}:w")
            client.srem("sb:cb:tripped", endpoint_id)
            client.zrem("sb:cb:known", endpoint_id)


@pytest.mark.django_db
def test_readyz_shows_each_endpoint_health(client, open_endpoint):
    response = client.get("/readyz")
    body = response.json()
    row = next(item for item in body["endpoints"]["items"] if item["endpoint_id"] == open_endpoint)
    assert response.status_code == 200
    assert body["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}
    assert row["state"] == "open"
    assert row["error_rate"] == 1.0
    assert row["calls"] == 5
    assert body["endpoints"]["view"] == ("shared" if settings.REDIS_URL else "process")


@pytest.mark.django_db
def test_with_redis_down_it_is_this_process_view(client, monkeypatch):
    from tests.aiplatform.redis_outages import down_redis_url

    url = down_redis_url()
    health = EndpointHealth(redis_url=url)
    monkeypatch.setattr(report, "health", health)
    monkeypatch.setattr(report, "caps", InflightCaps(redis_url=url))
    for _ in range(5):
        health.record(42, ok=False)
    endpoints = client.get("/readyz").json()["endpoints"]
    assert endpoints["view"] == "process"
    assert endpoints["items"][0]["state"] == "open"
    assert endpoints["items"][0]["in_flight"] is None  # not known without Redis, so not shown as zero
