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


@shared_task(name="portal.record_shadow_results")
def record_shadow_results(payload: str) -> None:
    """Write one batch of shadow results the gateway published (JSON: a list of ``gateway.metering.ShadowRecord``).

    Idempotent (unique by the primary call's request id), so a re-delivered batch is written once.
    """
    from portal.services.shadow import record_shadow_results as record

    record(results=orjson.loads(payload))


# Usage rollups (portal.rollups): scheduled by celery beat (portal/migrations/0006); each rebuilds
# whole buckets from the ledger, so a retried or overlapping run does no harm.

@shared_task(name="portal.rollup_usage_hourly")
def rollup_usage_hourly() -> None:
    """Roll up the last completed hour and the current one."""
    from portal import rollups

    rollups.rollup_recent(rollups.HOUR)


@shared_task(name="portal.rollup_usage_daily")
def rollup_usage_daily() -> None:
    """Roll up yesterday and today."""
    from portal import rollups

    rollups.rollup_recent(rollups.DAY)


@shared_task(name="portal.reconcile_usage")
def reconcile_usage(days: int = 1) -> None:
    """Prove the last ``days`` days of rollups equal the ledger, repairing what differs."""
    from portal import rollups

    rollups.reconcile_recent(days=days)


@shared_task(name="portal.prune_usage_ledger")
def prune_usage_ledger() -> None:
    """Delete raw ledger events older than ``USAGE_RETENTION_DAYS`` whose days are rolled up; rollups stay."""
    from portal import rollups

    rollups.prune_ledger()


@shared_task(name="portal.prune_payload_records")
def prune_payload_records() -> int:
    """Delete payload records older than ``PAYLOAD_RETENTION_DAYS`` (scheduled daily: portal/migrations/0013)."""
    from portal.services.guardrails import prune_payload_records as prune

    return prune()


@shared_task(name="portal.drain_usage")
def drain_usage() -> int:
    """Write the gateway's recorded usage events to the ledger (nudged by the gateway, and on a schedule)."""
    from portal.usage_intake import drain

    return drain()


@shared_task(bind=True, name="portal.deliver_alert_webhook", max_retries=None)
def deliver_alert_webhook(self, alert_id: int, webhook_id: int) -> None:
    """Post one budget alert to one webhook, signed; retried with backoff under the same ``webhook-id``.

    ``portal.webhooks.attempt_delivery`` owns the schedule (how many attempts, how long between them) and
    audits the final failure, so Celery's own retry cap is off.
    """
    from portal import webhooks

    countdown = webhooks.attempt_delivery(alert_id=alert_id, webhook_id=webhook_id, attempt=self.request.retries + 1)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(bind=True, name="portal.deliver_batch_webhook", max_retries=None)
def deliver_batch_webhook(self, batch_id: str, webhook_id: int) -> None:
    """Post a batch's end (``batch.completed``, ...) to one webhook, signed; retried as the budget alerts are."""
    from portal import webhooks

    countdown = webhooks.attempt_batch_delivery(batch_id=batch_id, webhook_id=webhook_id,
                                                attempt=self.request.retries + 1)
    if countdown is not None:
        raise self.retry(countdown=countdown)


@shared_task(name="portal.purge_expired_files")
def purge_expired_files() -> int:
    """Delete uploaded files past their expiry, rows and bytes (celery beat, hourly)."""
    from portal.services.files import purge_expired_files as purge

    return purge()


@shared_task(name="portal.run_batch", acks_late=True)
def run_batch(batch_id: str) -> None:
    """Drive one batch (queue ``batches``): validate it, send its lines through the gateway, write its files."""
    from portal.batch_runner import run

    run(batch_id)


@shared_task(name="portal.resume_stalled_batches")
def resume_stalled_batches() -> int:
    """Queue a runner for each batch whose runner is gone (celery beat, every minute, and at worker start)."""
    from portal.batch_runner import resume_stalled_batches as resume

    return resume()
