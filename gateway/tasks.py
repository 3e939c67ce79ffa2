"""The gateway's housekeeping jobs."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="gateway.purge_expired_responses")
def purge_expired_responses() -> int:
    """Delete the Responses API's stored responses past their retention (celery beat, hourly)."""
    from gateway.responses_store import purge_expired

    return purge_expired()
