"""Background jobs of the portal: thin wrappers around its services."""

from __future__ import annotations

import orjson
from celery import shared_task

from portal import services

GATEWAY_REPORT_TASK = "portal.record_gateway_report"


@shared_task(name=GATEWAY_REPORT_TASK)
def record_gateway_report(payload: str) -> None:
    """Write one batch of gateway usage events and refusals (JSON: ``{"usage": [...], "refusals": [...]}``).

    Idempotent, so a batch re-delivered after a worker died mid-task is written once.
    """
    batch = orjson.loads(payload)
    services.record_gateway_report(usage=batch.get("usage") or [], refusals=batch.get("refusals") or [])


@shared_task(name="portal.drain_usage")
def drain_usage() -> int:
    """Write the gateway's recorded usage events to the ledger (nudged by the gateway, and on a schedule)."""
    from portal.usage_intake import drain

    return drain()
