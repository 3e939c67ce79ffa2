"""/readyz with a Redis that accepts connections and never answers: a prompt 503 naming the cache."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from aiplatform.celery import app as celery_app
from tests.aiplatform.redis_outages import answer_within, hung_redis_url


@pytest.mark.django_db
def test_a_hung_cache_is_named_promptly(client):
    with hung_redis_url() as url:
        hung_cache = {"default": {**settings.CACHES["default"], "BACKEND": "django.core.cache.backends.redis.RedisCache",
                                  "LOCATION": url}}
        with override_settings(CACHES=hung_cache):
            response = answer_within(4, lambda: client.get("/readyz"))
    assert response.status_code == 503
    assert response.json()["down"] == ["cache"]


@pytest.mark.django_db
def test_a_hung_broker_is_named_promptly(client, monkeypatch):
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the broker is Redis only in the full stack")
    with hung_redis_url() as url:
        monkeypatch.setattr(celery_app.conf, "broker_url", url)
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        response = answer_within(4, lambda: client.get("/readyz"))
    assert response.status_code == 503
    assert response.json()["down"] == ["broker"]
