"""With Redis down, pages and API calls degrade (no throttle counters, no version notice): never a 500."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings

from aiplatform.models import AuditEvent
from portal.models import ApiKey
from tests.aiplatform.redis_outages import down_redis_url
from tests.conftest import PASSWORD


def _cache_at(url: str) -> dict:
    if "redis" not in settings.CACHES["default"]["BACKEND"].lower():
        pytest.skip("the cache is Redis only in the full stack")
    return {"default": {**settings.CACHES["default"], "LOCATION": url}}


def test_login_with_the_cache_down_still_signs_in(client, make_user):
    make_user("dana@example.com")
    with override_settings(CACHES=_cache_at(down_redis_url())):
        response = client.post("/accounts/login/", {"login": "dana@example.com", "password": PASSWORD})
    assert response.status_code == 302
    assert response.wsgi_request.user.is_authenticated


def test_a_failed_login_with_the_cache_down_is_a_form_error(client, make_user):
    make_user("dana@example.com")
    with override_settings(CACHES=_cache_at(down_redis_url())):
        response = client.post("/accounts/login/", {"login": "dana@example.com", "password": "wrong-password-1"})
    assert response.status_code == 200


def test_revoking_a_key_with_redis_down_answers_200(client, api_key, developer, token_for,
                                                      django_capture_on_commit_callbacks):
    if not settings.REDIS_URL:
        pytest.skip("Redis publishing is part of the full stack")
    auth = token_for(developer)
    with override_settings(REDIS_URL=down_redis_url(), CACHES=_cache_at(down_redis_url())):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(f"/api/keys/{api_key.pk}/revoke/", {"reason": "leaked"},
                                   content_type="application/json", **auth)
    assert response.status_code == 200
    assert ApiKey.objects.get(pk=api_key.pk).is_revoked
    assert AuditEvent.objects.filter(action="api_key.revoke").exists()
