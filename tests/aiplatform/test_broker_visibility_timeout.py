"""A task held by a killed worker comes back within minutes, not kombu's default hour (Redis broker)."""

import pytest
from django.conf import settings

from aiplatform.celery import app

KOMBU_DEFAULT = 3600


def test_the_redis_broker_hands_a_dead_workers_task_on_within_minutes():
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the visibility timeout is the Redis transport's")
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        assert channel.visibility_timeout < KOMBU_DEFAULT
        assert channel.visibility_timeout == settings.BROKER_VISIBILITY_TIMEOUT_SECONDS


def test_the_redis_broker_does_not_wait_forever_on_a_hung_redis():
    if not settings.CELERY_BROKER_URL.startswith("redis"):
        pytest.skip("the socket timeout is the Redis transport's")
    with app.connection_for_write() as conn:
        assert conn.default_channel.socket_timeout is not None
