"""Bump and read configuration versions (see ``aiplatform.models.config_version``)."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import transaction
from django.db.models import F

from aiplatform.models.config_version import ConfigVersion

REDIS_KEY = "sb:config-version:{namespace}"
REDIS_CHANNEL = "sb:config-changed"


def _redis() -> redis.Redis | None:
    return redis.Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None


def bump(namespace: str) -> None:
    """Record that ``namespace`` changed. Call inside the transaction that changes it."""
    with transaction.atomic():
        updated = ConfigVersion.objects.filter(namespace=namespace).update(version=F("version") + 1)
        if not updated:
            ConfigVersion.objects.create(namespace=namespace, version=1)
    version = ConfigVersion.objects.get(namespace=namespace).version

    def publish() -> None:
        client = _redis()
        if client is not None:
            # Never lower a newer number another process already wrote.
            pipe = client.pipeline()
            pipe.set(REDIS_KEY.format(namespace=namespace), version, get=False)
            pipe.publish(REDIS_CHANNEL, f"{namespace}:{version}")
            pipe.execute()

    transaction.on_commit(publish)


def current(namespace: str) -> int:
    """The committed version of ``namespace`` (0 when it never changed)."""
    return ConfigVersion.objects.filter(namespace=namespace).values_list("version", flat=True).first() or 0
