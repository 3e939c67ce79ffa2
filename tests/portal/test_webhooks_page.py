"""The team's webhooks page: add a receiver (its secret once), send a test event, read the delivery log, delete."""

from __future__ import annotations

import json

import pytest

from aiplatform.models import AuditEvent
from aiplatform.roles import TenantRole
from portal.models import AlertWebhook, WebhookDelivery
from portal.tasks import deliver_alert_webhook
from tests.portal.test_alert_webhooks import alert, receiver, spec_signature_is_valid, team_admin  # noqa: F401

pytestmark = pytest.mark.django_db


def page(client, tenant):
    return client.get(f"/portal/teams/{tenant.slug}/webhooks/")


def test_a_team_admin_adds_a_webhook_sees_the_secret_once_and_a_test_event_arrives_signed(
        client, tenant_a, team_admin, receiver):  # noqa: F811
    hook = receiver()
    client.force_login(team_admin)
    added = client.post(f"/portal/teams/{tenant_a.slug}/webhooks/", {"url": hook.url})
    assert added.status_code == 302
    shown = client.get(added["Location"])
    secret = shown.context["secret"]
    assert secret.startswith("whsec_") and secret in shown.content.decode()
    assert shown["Cache-Control"] == "no-store"
    again = client.get(added["Location"])  # reloaded: the secret is gone
    assert again.status_code == 302 and secret not in client.get(again["Location"]).content.decode()

    webhook = AlertWebhook.objects.get(tenant=tenant_a)
    tested = client.post(f"/portal/webhooks/{webhook.pk}/test", follow=True)
    assert "Test event delivered" in tested.content.decode()
    (headers, body), = hook.requests
    assert spec_signature_is_valid(secret, headers, body)
    assert json.loads(body)["type"] == "webhook.test"
    (logged,) = WebhookDelivery.objects.filter(webhook=webhook)
    assert (logged.event_type, logged.outcome, logged.status_code) == ("webhook.test", "delivered", 204)
    html = page(client, tenant_a).content.decode()
    assert logged.msg_id in html and "delivered" in html
    assert "/hooks/budget" not in html  # only the origin is shown: paths often carry a credential
    assert AuditEvent.objects.filter(action="alert.webhook_test", tenant=tenant_a).exists()


def test_every_attempt_of_an_alert_is_in_the_log(client, tenant_a, team_admin, alert, receiver):  # noqa: F811
    from portal.webhooks import create_alert_webhook

    hook = receiver(statuses=[500])
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)
    deliver_alert_webhook.apply(args=[alert.pk, webhook.pk]).get()
    attempts = list(WebhookDelivery.objects.filter(webhook=webhook).order_by("attempt"))
    assert [(a.attempt, a.outcome, a.status_code) for a in attempts] == [(1, "retrying", 500), (2, "delivered", 204)]
    assert len({a.msg_id for a in attempts}) == 1


def test_a_refused_address_is_said_on_the_form(client, tenant_a, team_admin):  # noqa: F811
    client.force_login(team_admin)
    answer = client.post(f"/portal/teams/{tenant_a.slug}/webhooks/", {"url": "https://169.254.169.254/latest"})
    assert answer.status_code == 400
    assert "private or internal" in answer.content.decode()
    assert not AlertWebhook.objects.filter(tenant=tenant_a).exists()


def test_a_developer_reads_but_cannot_add_test_or_delete(client, tenant_a, team_admin, make_member, receiver):  # noqa: F811
    from portal.webhooks import create_alert_webhook

    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=receiver().url)
    developer = make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")
    client.force_login(developer)
    html = page(client, tenant_a).content.decode()
    assert "Send test event" not in html and "Add a webhook" not in html
    assert client.post(f"/portal/teams/{tenant_a.slug}/webhooks/", {"url": "https://example.com/h"}).status_code == 403
    assert client.post(f"/portal/webhooks/{webhook.pk}/test").status_code == 403
    assert client.post(f"/portal/webhooks/{webhook.pk}/delete").status_code == 403
    assert AlertWebhook.objects.filter(pk=webhook.pk).exists()


def test_another_team_gets_404_and_deleting_is_audited(client, tenant_a, tenant_b, team_admin, make_member, receiver):  # noqa: F811
    from portal.webhooks import create_alert_webhook

    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=receiver().url)
    outsider = make_member(tenant_b, TenantRole.ADMIN, email="other@example.com")
    client.force_login(outsider)
    assert client.post(f"/portal/webhooks/{webhook.pk}/delete").status_code == 404
    assert page(client, tenant_a).status_code == 404
    client.force_login(team_admin)
    assert client.post(f"/portal/webhooks/{webhook.pk}/delete").status_code == 302
    assert not AlertWebhook.objects.filter(pk=webhook.pk).exists()
    assert AuditEvent.objects.filter(action="alert.webhook_delete", tenant=tenant_a).exists()
