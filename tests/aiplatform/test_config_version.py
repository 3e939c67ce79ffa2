"""Configuration versions only move forward, even when the table is emptied (a restore, a test flush)."""

import pytest

from aiplatform import config_version
from aiplatform.models import ConfigVersion


@pytest.mark.smoke
@pytest.mark.django_db
def test_a_version_never_comes_back_after_the_table_is_emptied():
    config_version.bump("keys")
    seen = config_version.current("keys")
    ConfigVersion.objects.all().delete()

    config_version.bump("keys")

    assert config_version.current("keys") > seen


@pytest.mark.django_db
def test_bumps_are_strictly_increasing():
    versions = []
    for _ in range(5):
        config_version.bump("registry")
        versions.append(config_version.current("registry"))
    assert versions == sorted(set(versions))


@pytest.mark.django_db(transaction=True)
def test_redis_holds_the_highest_version(settings):
    if not settings.REDIS_URL:
        pytest.skip("Redis publishing is part of the full stack")
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    key = config_version.REDIS_KEY.format(namespace="keys")
    client.set(key, 9_999_999_999_999)  # a newer number another process already published
    config_version.bump("keys")
    assert int(client.get(key)) == 9_999_999_999_999  # never lowered
    client.delete(key)
    config_version.bump("keys")
    assert int(client.get(key)) == config_version.current("keys")
