"""Bump and read configuration versions (see ``aiplatform.models.config_version``)."""

from __future__ import annotations

import time

import redis
import structlog
from django.conf import settings
from django.db import transaction
from redis.backoff import NoBackoff
from redis.retry import Retry

from aiplatform.models.config_version import ConfigVersion

REDIS_KEY = "sb:config-version:{namespace}"
# Raise the stored version, never lower it: two commits may publish out of order.
_SET_IF_GREATER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
"""
_clients: dict[str, redis.Redis] = {}
log = structlog.get_logger("switchboard.config")


def _redis() -> redis.Redis | None:
    url = settings.REDIS_URL
    if not url:
        return None
    if url not in _clients:
        timeout = settings.REDIS_TIMEOUT_SECONDS
        _clients[url] = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout,
                                             retry=Retry(NoBackoff(), 0))
    return _clients[url]


def bump(namespace: str) -> None:
    """Record that ``namespace`` changed. Call inside the transaction that changes it.

    Versions are milliseconds since the epoch (or the previous version + 1 when that is larger),
    so a number never comes back even if the table is emptied and rebuilt: a process holding
    an old number always sees the next one as different.
    """
    with transaction.atomic():
        row, _ = ConfigVersion.objects.select_for_update().get_or_create(namespace=namespace)
        row.version = max(row.version + 1, time.time_ns() // 1_000_000)
        row.save(update_fields=["version", "changed_at"])
    version = row.version

    def publish() -> None:
        # The change is committed; the Redis notice only makes it visible sooner. Without it the
        # gateways still see the new version through their database check, so an outage is logged, not raised.
        client = _redis()
        if client is None:
            return
        try:
            client.eval(_SET_IF_GREATER, 1, REDIS_KEY.format(namespace=namespace), version)
        except (redis.RedisError, OSError) as exc:
            log.warning("config_version_publish_failed", namespace=namespace, version=version,
                        error=type(exc).__name__)

    transaction.on_commit(publish)


def current(namespace: str) -> int:
    """The committed version of ``namespace`` (0 when it never changed)."""
    return ConfigVersion.objects.filter(namespace=namespace).values_list("version", flat=True).first() or 0
