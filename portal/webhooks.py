"""A team's budget alerts posted to its webhooks, signed the Standard Webhooks way.

Each delivery is a ``POST`` of a JSON body (``{"type": "budget.threshold_crossed", "timestamp": …,
"data": {…}}``) with three headers (https://www.standardwebhooks.com/, spec 1.0):

- ``webhook-id``: ``msg_budget_alert_<alert id>``, the same on every attempt, so a receiver that
  saw it already can drop a retry;
- ``webhook-timestamp``: the attempt's Unix time in seconds (receivers refuse old ones: replays);
- ``webhook-signature``: ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed with the
  webhook's secret (``whsec_`` + base64 of 32 random bytes), computed by the spec project's own
  library, ``standardwebhooks``.

The secret is shown once, when the webhook is created, and stored only as an ``enc:`` reference
(``registry.secrets``). Delivery is a Celery task (``portal.deliver_alert_webhook``): a 2xx is
success; anything else, a timeout or a refused connection is tried again, ``MAX_ATTEMPTS`` times in
all, with exponential backoff and jitter (or the receiver's ``Retry-After`` when longer), over about
ten minutes. Redirects are never followed: the spec counts a 3xx as a failure (update the URL
instead), and following one would let a receiver send our request to another host. A 410 means
the receiver wants no more: the webhook is switched off. A final failure is audited
(``alert.webhook_failed``); every attempt is logged. URLs may carry credentials (chat-tool webhook
URLs do), so logs and the audit trail name only the scheme and host.
"""

from __future__ import annotations

import base64
import random
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from standardwebhooks.webhooks import Webhook

from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from portal import alerts  # (alerts imports this module too: both use each other's names at call time only)
from portal.models import AlertWebhook, BudgetAlert, WebhookDelivery
from portal.services.transitions import check_permission
from portal.webhook_targets import UnresolvableTarget, UnsafeWebhookTarget, check_target
from registry.models.http_urls import validate_http_url
from registry.secrets import SecretReferenceError, SecretUnavailable, encrypt_secret, resolve_secret

log = structlog.get_logger(__name__)

EVENT_TYPE = "budget.threshold_crossed"
BATCH_EVENTS = ("batch.completed", "batch.failed", "batch.expired", "batch.cancelled")
EVENT_TYPES = {EVENT_TYPE: "Budget alerts", "batch.completed": "Batch completed", "batch.failed": "Batch failed",
               "batch.expired": "Batch expired", "batch.cancelled": "Batch cancelled"}
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the spec asks for 24 to 64 random bytes
MAX_ATTEMPTS = 5
# Short: a slow receiver holds a worker. The spec suggests 15-30 s for receivers that do work
# before answering; an alert receiver should acknowledge first and work after.
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
BACKOFF_BASE_SECONDS = 30.0  # then x3 each time: at most 30 s, 90 s, 270 s, 300 s
BACKOFF_FACTOR = 3
# No wait is longer than this, nor than half the Redis broker's visibility timeout: a retry's countdown
# past that timeout is handed to a second worker while the first still holds it, and both deliver
# (and, failing, both retry: the copies multiply).
MAX_DELAY_SECONDS = 300.0
USER_AGENT = "Switchboard-Webhooks/1"


def new_signing_secret() -> str:
    """A fresh Standard Webhooks signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def message_id(alert: BudgetAlert) -> str:
    """The ``webhook-id`` of an alert: stable, so every retry carries the same one."""
    return f"msg_budget_alert_{alert.pk}"


def sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for one attempt: ``v1,<base64 HMAC-SHA256>``."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body.decode())


def alert_payload(alert: BudgetAlert) -> dict:
    """The JSON body of an alert's delivery; built from the stored alert, so it is the same on every attempt.

    ``used`` and ``budget`` are decimal strings (US dollars for ``cost``, tokens for ``tokens``), so no
    receiver's JSON parser rounds them.
    """
    return {
        "type": EVENT_TYPE,
        "timestamp": alert.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "tenant": alert.tenant.slug,
            "level": alert.level,
            "owner": {"id": alert.owner_id, "name": alerts.describe_owner(alert.level, alert.owner_id).name},
            "measure": alert.measure,
            "unit": "usd" if alert.measure == "cost" else "tokens",
            "period": alert.period,
            "period_start": alert.period_start.isoformat(),
            "threshold_percent": alert.threshold_percent,
            "used": _plain(alert.used),
            "budget": _plain(alert.budget),
        },
    }


def _plain(value: Decimal) -> str:
    """``Decimal("0.042000000")`` → ``"0.042"``; ``Decimal("1000.000000000")`` → ``"1000"``."""
    return format(value.normalize(), "f")


def _origin(url: str) -> str:
    """Scheme, host and port of a URL: what logs and the audit trail may show of it."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
    except ValueError:
        return "(invalid URL)"


def create_alert_webhook(*, actor: User | None, tenant: Tenant, url: str,
                         events: list[str] | None = None) -> tuple[AlertWebhook, str]:
    """Add a webhook that receives ``tenant``'s events (``events`` of ``EVENT_TYPES``; none given: every one);
    returns it and its signing secret.

    The secret (``whsec_…``) is returned only here, once: the database keeps an encrypted reference.
    Team admins and owners (``tenant.update``); audited as ``alert.webhook_create``. A URL that is not
    an absolute http(s) URL is refused (``ValidationError`` on ``url``).
    """
    check_permission(actor, "tenant.update", tenant)
    url = (url or "").strip()
    try:
        if not url:
            raise ValidationError("Give the URL that receives the alerts.")
        validate_http_url(url)
    except ValidationError as exc:
        raise ValidationError({"url": exc.messages}) from None
    if len(url) > AlertWebhook._meta.get_field("url").max_length:
        raise ValidationError({"url": "That URL is too long (500 characters at most)."})
    try:
        check_target(url)
    except UnresolvableTarget:
        pass  # checked again before every delivery; a name may resolve tomorrow that does not today
    except UnsafeWebhookTarget as refused:
        raise ValidationError({"url": f"This URL may not receive webhooks: {refused}."}) from None
    events = sorted(set(events or ()))
    if unknown := [e for e in events if e not in EVENT_TYPES]:
        raise ValidationError({"events": f"Unknown event type {unknown[0][:64]!r}."})
    secret = new_signing_secret()
    with transaction.atomic():
        webhook = AlertWebhook.objects.create(tenant=tenant, url=url, secret_ref=encrypt_secret(secret),
                                              created_by=actor, events=events)
        # No ``target``: its label is the URL, and the trail (append-only) must not keep a credential.
        record_event(action="alert.webhook_create", actor=actor, tenant=tenant,
                     changes={"webhook_id": webhook.pk, "origin": _origin(url), "events": events or "all"})
    return webhook, secret


def enqueue_deliveries(new_alerts: list[BudgetAlert]) -> None:
    """Queue one delivery per new alert and active webhook of its team, once the transaction commits."""
    if not new_alerts:
        return
    from portal.tasks import deliver_alert_webhook  # the tasks module imports this one

    tenant_ids = {alert.tenant_id for alert in new_alerts}
    hooks: dict[int, list[int]] = {}
    for hook in AlertWebhook.objects.filter(tenant_id__in=tenant_ids, is_active=True):
        if hook.receives(EVENT_TYPE):
            hooks.setdefault(hook.tenant_id, []).append(hook.pk)
    for alert in new_alerts:
        for hook_id in hooks.get(alert.tenant_id, ()):
            # robust: a broker that is down must not undo the alert (logged by Django; the e-mail still left).
            transaction.on_commit(lambda a=alert.pk, h=hook_id: deliver_alert_webhook.delay(a, h), robust=True)


@dataclass(frozen=True, slots=True)
class Attempt:
    """What one delivery attempt came to."""

    delivered: bool
    retryable: bool = False
    reason: str = ""
    status: int | None = None
    retry_after: float | None = None


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds before the attempt after ``attempt`` (1-based): exponential, with "equal jitter" (half fixed,
    half random) so receivers that failed together are not retried together; a longer ``Retry-After`` wins,
    up to the same ceiling."""
    longest = min(MAX_DELAY_SECONDS, settings.BROKER_VISIBILITY_TIMEOUT_SECONDS / 2)
    ceiling = min(BACKOFF_BASE_SECONDS * BACKOFF_FACTOR ** (attempt - 1), longest)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, longest))
    return delay


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:  # an HTTP date: rare from webhook receivers; our own backoff applies
        return None


def post(webhook: AlertWebhook, alert: BudgetAlert) -> Attempt:
    """One signed POST of ``alert`` to ``webhook`` (see ``post_signed``)."""
    return post_signed(webhook, msg_id=message_id(alert), body=orjson.dumps(alert_payload(alert)))


def post_signed(webhook: AlertWebhook, *, msg_id: str, body: bytes) -> Attempt:
    """One signed POST of ``body`` to ``webhook``; never follows a redirect, and connects only to an address
    ``portal.webhook_targets`` allows (the one it checked, so DNS cannot swap it for another)."""
    try:
        validate_http_url(webhook.url)
    except ValidationError:
        return Attempt(delivered=False, reason="not an http(s) URL")
    try:
        target = check_target(webhook.url)
    except UnsafeWebhookTarget as refused:
        return Attempt(delivered=False, reason=f"target refused: {refused}"[:200])
    try:
        secret = resolve_secret(webhook.secret_ref)
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(secret=secret, msg_id=msg_id, timestamp=timestamp, body=body),
        }
    except (SecretReferenceError, SecretUnavailable, ValueError):  # ValueError: not base64 after whsec_
        return Attempt(delivered=False, reason="signing secret unavailable")
    try:
        netloc = urlsplit(webhook.url).netloc.rpartition("@")[2]
        with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
            response = client.post(target.pinned_url, content=body, headers={**headers, "host": netloc},
                                   extensions={"sni_hostname": target.host})
    except httpx.InvalidURL:  # passed the rule above, yet httpx cannot call it
        return Attempt(delivered=False, reason="not an http(s) URL")
    except httpx.HTTPError as exc:  # refused, reset, timed out, bad TLS...
        return Attempt(delivered=False, retryable=True, reason=type(exc).__name__)
    if 200 <= response.status_code < 300:
        return Attempt(delivered=True, status=response.status_code)
    if response.status_code == 410:
        return Attempt(delivered=False, status=410, reason="receiver answered 410 Gone")
    return Attempt(delivered=False, retryable=True, status=response.status_code,
                   reason=f"receiver answered {response.status_code}", retry_after=_retry_after(response))


def _log(webhook: AlertWebhook, *, msg_id: str, event_type: str, attempt: int, outcome: Attempt,
         will_retry: bool) -> None:
    """One row of the team's delivery log per attempt."""
    result = (WebhookDelivery.Outcome.DELIVERED if outcome.delivered
              else WebhookDelivery.Outcome.RETRYING if will_retry else WebhookDelivery.Outcome.FAILED)
    WebhookDelivery.objects.create(webhook=webhook, msg_id=msg_id, event_type=event_type, attempt=attempt,
                                   outcome=result, status_code=outcome.status, reason=outcome.reason[:200])


TEST_EVENT_TYPE = "webhook.test"


def send_test_event(*, actor: User, webhook: AlertWebhook) -> Attempt:
    """Deliver one ``webhook.test`` event now (no retries), log it and audit it; the outcome, for the page."""
    check_permission(actor, "tenant.update", webhook.tenant)
    msg_id = f"msg_test_{secrets.token_hex(8)}"
    body = orjson.dumps({"type": TEST_EVENT_TYPE, "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
                         "data": {"tenant": webhook.tenant.slug, "webhook_id": webhook.pk}})
    outcome = post_signed(webhook, msg_id=msg_id, body=body)
    with transaction.atomic():
        _log(webhook, msg_id=msg_id, event_type=TEST_EVENT_TYPE, attempt=1, outcome=outcome, will_retry=False)
        record_event(action="alert.webhook_test", actor=actor, tenant=webhook.tenant,
                     changes={"webhook_id": webhook.pk, "origin": _origin(webhook.url),
                              "delivered": outcome.delivered, "status": outcome.status})
    return outcome


def delete_webhook(*, actor: User, webhook: AlertWebhook) -> None:
    """Remove a webhook (and its delivery log); audited as ``alert.webhook_delete``."""
    check_permission(actor, "tenant.update", webhook.tenant)
    with transaction.atomic():
        record_event(action="alert.webhook_delete", actor=actor, tenant=webhook.tenant,
                     changes={"webhook_id": webhook.pk, "origin": _origin(webhook.url)})
        webhook.delete()


def origin_of(webhook: AlertWebhook) -> str:
    """What a page may show of a webhook's URL: its scheme, host and port (paths often carry a credential)."""
    return _origin(webhook.url)


def attempt_delivery(*, alert_id: int, webhook_id: int, attempt: int) -> float | None:
    """Attempt ``attempt`` (1-based) to deliver one alert to one webhook.

    Returns the seconds to wait before the next attempt, or ``None`` when there is none to make:
    delivered, given up (audited as ``alert.webhook_failed``), or nothing to send (the alert or the
    webhook is gone, or the webhook was switched off).
    """
    alert = BudgetAlert.objects.select_related("tenant").filter(pk=alert_id).first()
    webhook = AlertWebhook.objects.filter(pk=webhook_id, is_active=True).first()
    if alert is None or webhook is None or webhook.tenant_id != alert.tenant_id:
        log.info("alert_webhook_skipped", alert_id=alert_id, webhook_id=webhook_id,
                 reason="gone, inactive or another team's")
        return None
    return _attempt(webhook, tenant=alert.tenant, msg_id=message_id(alert), event_type=EVENT_TYPE,
                    body=orjson.dumps(alert_payload(alert)), attempt=attempt, subject={"alert_id": alert_id})


def _attempt(webhook: AlertWebhook, *, tenant: Tenant, msg_id: str, event_type: str, body: bytes, attempt: int,
             subject: dict) -> float | None:
    """One attempt of any event: post it, log it, and say when to try again (None: delivered or given up)."""
    outcome = post_signed(webhook, msg_id=msg_id, body=body)
    fields = {**subject, "webhook_id": webhook.pk, "webhook_msg_id": msg_id, "event_type": event_type,
              "origin": _origin(webhook.url), "attempt": attempt, "status": outcome.status}
    _log(webhook, msg_id=msg_id, event_type=event_type, attempt=attempt, outcome=outcome,
         will_retry=not outcome.delivered and outcome.retryable and attempt < MAX_ATTEMPTS)
    if outcome.delivered:
        log.info("webhook_delivered", **fields)
        return None
    if outcome.retryable and attempt < MAX_ATTEMPTS:
        delay = retry_delay(attempt, outcome.retry_after)
        log.warning("webhook_attempt_failed", **fields, reason=outcome.reason, retry_in_seconds=round(delay, 1))
        return delay
    log.error("webhook_failed", **fields, reason=outcome.reason)
    _record_failure(webhook, tenant, fields=fields, attempts=attempt, outcome=outcome)
    return None


# --- batch events (the Batch API) ------------------------------------------------------------------------


def batch_message_id(batch_id: str, event_type: str) -> str:
    return f"msg_{event_type.replace('.', '_')}_{batch_id}"


def batch_payload(batch, event_type: str) -> dict:
    """OpenAI's webhook event for a batch (``{"object": "event", "type": "batch.completed", "data": {"id"}}``),
    with where it ended beside the id; built from the ended batch, so the same on every attempt."""
    ended = batch.completed_at or batch.failed_at or batch.expired_at or batch.cancelled_at or batch.created_at
    return {"id": batch_message_id(batch.pk, event_type), "object": "event", "type": event_type,
            "created_at": int(ended.timestamp()),
            "data": {"id": batch.pk, "status": batch.status, "output_file_id": batch.output_file_id or None,
                     "error_file_id": batch.error_file_id or None,
                     "request_counts": {"total": batch.total, "completed": batch.completed, "failed": batch.failed}}}


def enqueue_batch_event(batch) -> None:
    """Queue the batch's end (``batch.<status>``) to each active webhook of its team that takes it."""
    event_type = f"batch.{batch.status}"
    if event_type not in BATCH_EVENTS:
        return
    from portal.tasks import deliver_batch_webhook

    for hook in AlertWebhook.objects.filter(tenant_id=batch.tenant_id, is_active=True):
        if hook.receives(event_type):
            transaction.on_commit(lambda b=batch.pk, h=hook.pk: deliver_batch_webhook.delay(b, h), robust=True)


def attempt_batch_delivery(*, batch_id: str, webhook_id: int, attempt: int) -> float | None:
    """Attempt ``attempt`` to deliver a batch's end to one webhook (as ``attempt_delivery``)."""
    from portal.models import Batch

    batch = Batch.objects.select_related("tenant").filter(pk=batch_id).first()
    webhook = AlertWebhook.objects.filter(pk=webhook_id, is_active=True).first()
    if batch is None or webhook is None or webhook.tenant_id != batch.tenant_id or not batch.is_final:
        return None
    event_type = f"batch.{batch.status}"
    return _attempt(webhook, tenant=batch.tenant, msg_id=batch_message_id(batch_id, event_type),
                    event_type=event_type, body=orjson.dumps(batch_payload(batch, event_type)), attempt=attempt,
                    subject={"batch_id": batch_id})


def _record_failure(webhook: AlertWebhook, tenant: Tenant, *, fields: dict, attempts: int, outcome: Attempt) -> None:
    """Audit the final failure; a 410 also switches the webhook off, as the receiver asked."""
    disable = outcome.status == 410
    with transaction.atomic():
        if disable:
            AlertWebhook.objects.filter(pk=webhook.pk).update(is_active=False)
        changes = {key: value for key, value in fields.items() if key != "attempt"}
        record_event(action="alert.webhook_failed", actor=None, tenant=tenant,
                     changes={**changes, "attempts": attempts, "reason": outcome.reason,
                              "webhook_disabled": disable})
