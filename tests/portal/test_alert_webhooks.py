"""A team's budget alerts reach its webhook, signed the Standard Webhooks way, retried under one webhook-id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from standardwebhooks.webhooks import Webhook

from aiplatform.celery import app as celery_app
from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal import services
from portal.alerts import check_budget_alerts
from portal.models import AlertWebhook, BudgetAlert
from portal.tasks import deliver_alert_webhook
from portal.webhooks import MAX_ATTEMPTS, create_alert_webhook, retry_delay
from registry.secrets import resolve_secret


class Receiver:
    """A webhook receiver on loopback that answers each POST with the next scripted status (then 204)."""

    def __init__(self, statuses: list[int] | None = None, headers: dict[str, str] | None = None):
        self.statuses, self.extra_headers, self.requests = list(statuses or []), headers or {}, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 204)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/budget"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(statuses: list[int] | None = None, headers: dict[str, str] | None = None) -> Receiver:
        made.append(Receiver(statuses, headers))
        return made[-1]

    yield make
    for each in made:
        each.close()


@pytest.fixture
def team_admin(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.ADMIN, email="admin@example.com")


@pytest.fixture
def alert(tenant_a, api_key):
    return BudgetAlert.objects.create(level="key", owner_id=api_key.pk, tenant=tenant_a, measure="cost", period="day",
                                      period_start=datetime.now(UTC).date(), threshold_percent=80,
                                      used=Decimal("0.042"), budget=Decimal("0.05"))


def deliver(alert: BudgetAlert, webhook: AlertWebhook) -> None:
    """Run the delivery task as a worker would, its retries included (eagerly); raise what it raised."""
    deliver_alert_webhook.apply(args=[alert.pk, webhook.pk]).get()


@pytest.fixture
def eager_tasks():
    """Queued tasks run at once, in the test's process (the Celery app read its settings already)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def spec_signature_is_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The spec's check, written out here independently of the code under test."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.partition(",")[2] for part in headers["webhook-signature"].split(" ") if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, signature) for signature in offered)


@pytest.mark.django_db
def test_a_team_admin_adds_a_webhook_and_sees_its_secret_once(tenant_a, team_admin):
    webhook, secret = create_alert_webhook(actor=team_admin, tenant=tenant_a, url="https://hooks.example.com/budget")

    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert webhook.secret_ref.startswith("enc:")
    assert secret not in webhook.secret_ref
    assert resolve_secret(webhook.secret_ref) == secret
    assert AuditEvent.objects.filter(action="alert.webhook_create", tenant=tenant_a).count() == 1


@pytest.mark.django_db
def test_a_developer_cannot_add_a_webhook(tenant_a, developer):
    with pytest.raises(PermissionDenied):
        create_alert_webhook(actor=developer, tenant=tenant_a, url="https://hooks.example.com/budget")

    assert not AlertWebhook.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["ftp://hooks.example.com/budget", "file:///etc/passwd", "javascript:alert(1)",
                                 "//hooks.example.com/budget", ""])
def test_a_url_that_is_not_http_is_refused(tenant_a, team_admin, url):
    with pytest.raises(ValidationError) as refused:
        create_alert_webhook(actor=team_admin, tenant=tenant_a, url=url)

    assert "url" in refused.value.message_dict
    assert not AlertWebhook.objects.exists()


@pytest.mark.django_db
def test_a_delivery_is_signed_the_standard_webhooks_way(tenant_a, team_admin, alert, receiver):
    hook = receiver()
    webhook, secret = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)

    [(headers, body)] = hook.requests
    assert headers["webhook-id"] == f"msg_budget_alert_{alert.pk}"
    assert spec_signature_is_valid(secret, headers, body)
    assert Webhook(secret).verify(body, headers)["type"] == "budget.threshold_crossed"  # the reference library
    assert headers["content-type"] == "application/json"


@pytest.mark.django_db
def test_the_payload_says_which_budget_was_crossed(tenant_a, team_admin, alert, api_key, receiver):
    hook = receiver()
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)

    payload = json.loads(hook.requests[0][1])
    assert payload["type"] == "budget.threshold_crossed"
    assert payload["data"] == {
        "tenant": "alpha", "level": "key", "owner": {"id": api_key.pk, "name": f"{api_key.key_prefix}…"},
        "measure": "cost", "unit": "usd", "period": "day", "period_start": alert.period_start.isoformat(),
        "threshold_percent": 80, "used": "0.042", "budget": "0.05"}


@pytest.mark.django_db
def test_a_receiver_that_fails_twice_gets_the_same_webhook_id_three_times(tenant_a, team_admin, alert, receiver):
    hook = receiver(statuses=[500, 503])
    webhook, secret = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)  # eager: the retries run at once, without their countdown

    assert [headers["webhook-id"] for headers, _ in hook.requests] == [f"msg_budget_alert_{alert.pk}"] * 3
    assert all(spec_signature_is_valid(secret, headers, body) for headers, body in hook.requests)
    assert not AuditEvent.objects.filter(action="alert.webhook_failed").exists()


@pytest.mark.django_db
def test_a_receiver_that_always_fails_is_tried_five_times_then_audited(tenant_a, team_admin, alert, receiver):
    hook = receiver(statuses=[500] * 10)
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)

    assert len(hook.requests) == MAX_ATTEMPTS
    failure = AuditEvent.objects.get(action="alert.webhook_failed")
    assert failure.changes["attempts"] == 5
    assert failure.changes["reason"] == "receiver answered 500"
    assert hook.url not in json.dumps(failure.changes)  # a URL may be a credential: only its origin is kept


@pytest.mark.django_db
def test_a_redirect_is_not_followed(tenant_a, team_admin, alert, receiver):
    elsewhere = receiver()
    hook = receiver(statuses=[307] * 10, headers={"location": elsewhere.url})
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)

    assert elsewhere.requests == []
    assert AuditEvent.objects.get(action="alert.webhook_failed").changes["reason"] == "receiver answered 307"


@pytest.mark.django_db
def test_a_receiver_that_answers_gone_is_switched_off(tenant_a, team_admin, alert, receiver):
    hook = receiver(statuses=[410])
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)

    deliver(alert, webhook)

    assert len(hook.requests) == 1
    webhook.refresh_from_db()
    assert webhook.is_active is False


@pytest.mark.django_db
def test_a_stored_url_that_is_not_http_is_never_called(tenant_a, team_admin, alert):
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url="https://hooks.example.com/budget")
    AlertWebhook.objects.filter(pk=webhook.pk).update(url="file:///etc/passwd")  # edited behind the service's back

    deliver(alert, webhook)

    assert AuditEvent.objects.get(action="alert.webhook_failed").changes["reason"] == "not an http(s) URL"


@pytest.mark.django_db
def test_a_crossed_budget_reaches_the_webhook(tenant_a, team_admin, api_key, receiver, eager_tasks,
                                              django_capture_on_commit_callbacks):
    hook = receiver()
    webhook, secret = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)
    services.set_limits(actor=None, owner=api_key, values={"tokens_per_day": 100})
    event = {"request_id": "req-1", "occurred_at": datetime.now(UTC), "tenant_id": api_key.tenant_id,
             "application_id": api_key.application_id, "key_id": api_key.pk, "alias": "fast-chat",
             "operation": "chat", "total_tokens": 90, "cost": Decimal("0.001"), "total_ms": 4.0, "status": 200}
    services.record_usage_events(events=[event])

    with django_capture_on_commit_callbacks(execute=True):
        alerts = check_budget_alerts([event])

    assert sorted(a.threshold_percent for a in alerts) == [50, 80]
    assert sorted(headers["webhook-id"] for headers, _ in hook.requests) == sorted(
        f"msg_budget_alert_{a.pk}" for a in alerts)
    assert all(spec_signature_is_valid(secret, headers, body) for headers, body in hook.requests)


def test_the_waits_between_attempts_grow_with_jitter_and_stay_short(settings):
    settings.BROKER_VISIBILITY_TIMEOUT_SECONDS = 600
    for attempt, ceiling in zip(range(1, MAX_ATTEMPTS), [30, 90, 270, 300], strict=True):
        assert ceiling / 2 <= retry_delay(attempt) <= ceiling

    assert retry_delay(1, retry_after=120) == 120  # the receiver asked for longer
    assert retry_delay(1, retry_after=86_400) <= 300  # but never past half the broker's redelivery time
