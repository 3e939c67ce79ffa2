"""The Celery app. Tasks live in each app's ``tasks.py`` and are thin: ids in, a service call."""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _resume_batches_after_start(sender=None, **_) -> None:
    """A worker that starts (perhaps after one was killed mid-batch) looks for batches whose runner is gone,
    once that runner's hold has run out; celery beat does the same every minute."""
    from django.conf import settings

    try:
        sender.app.send_task("portal.resume_stalled_batches", countdown=settings.BATCH_LEASE_SECONDS + 1)
    except Exception:  # a broker hiccup at start must not stop the worker; the schedule catches up
        pass
