"""Core background jobs."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task
from django.utils import timezone


@shared_task(name="aiplatform.touch_file")
def touch_file(path: str) -> None:
    """Write the current time to ``path``: proof for operators and tests that the worker runs."""
    Path(path).write_text(timezone.now().isoformat())


@shared_task(name="aiplatform.write_audit_checkpoint")
def write_audit_checkpoint() -> None:
    """Anchor the audit chain's head in a signed checkpoint (celery beat, every minute)."""
    from aiplatform.audit import checkpoint_head

    checkpoint_head()
