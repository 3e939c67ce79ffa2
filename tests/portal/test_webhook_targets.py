"""Webhooks never reach the platform itself or an internal address unless an operator allows its network,
are https only where HTTPS_ONLY is on, and connect to the address that was checked (no DNS rebinding)."""

from __future__ import annotations

import socket

import pytest
from django.core.exceptions import ValidationError

from portal.webhook_targets import UnsafeWebhookTarget, check_target
from portal.webhooks import create_alert_webhook, post
from tests.portal.test_alert_webhooks import alert, receiver, team_admin  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings):
    """The production defaults: https only, no internal network allowed."""
    settings.WEBHOOK_REQUIRE_HTTPS = True
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    return settings


@pytest.mark.parametrize("url", [
    "https://127.0.0.1:9443/hook",  # loopback
    "https://[::1]:9443/hook",
    "https://10.1.2.3/hook",  # RFC 1918
    "https://192.168.0.10/hook",
    "https://169.254.169.254/latest/meta-data/",  # the cloud metadata service
    "https://100.64.0.1/hook",  # CGNAT
    "https://0.0.0.0/hook",
    "https://localhost:9443/hook",  # a name that resolves to loopback
])
def test_internal_addresses_are_refused(production, url):
    with pytest.raises(UnsafeWebhookTarget, match="private or internal"):
        check_target(url)


def test_plain_http_is_refused_in_production(production):
    with pytest.raises(UnsafeWebhookTarget, match="https only"):
        check_target("http://203.0.113.7/hook")


def test_the_platform_itself_is_refused_even_where_its_network_is_allowed(settings):
    settings.SITE_URL = "http://127.0.0.1:8000"
    with pytest.raises(UnsafeWebhookTarget, match="this platform itself"):
        check_target("http://127.0.0.1:8000/v1/usage")
    assert check_target("http://127.0.0.1:9001/hook").address == "127.0.0.1"  # another port on loopback


def test_an_operator_allows_an_internal_network(production):
    production.WEBHOOK_ALLOWED_NETWORKS = ["10.20.0.0/16"]
    target = check_target("https://10.20.3.4:8443/hook?token=x")
    assert (target.address, target.pinned_url) == ("10.20.3.4", "https://10.20.3.4:8443/hook?token=x")
    with pytest.raises(UnsafeWebhookTarget):
        check_target("https://10.21.0.1/hook")


def test_a_name_is_checked_on_every_address_it_resolves_to(production, monkeypatch):
    """DNS is outside: a name with one public and one private address is refused."""
    answers = [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 443)),
               (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.5", 443))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: answers)
    with pytest.raises(UnsafeWebhookTarget, match="10.0.0.5"):
        check_target("https://hooks.example.com/x")


def test_creating_a_webhook_to_an_internal_address_is_refused(tenant_a, team_admin, production):  # noqa: F811
    with pytest.raises(ValidationError) as refused:
        create_alert_webhook(actor=team_admin, tenant=tenant_a, url="https://169.254.169.254/latest")
    assert "private or internal" in str(refused.value.message_dict["url"])


def test_a_delivery_to_a_refused_address_never_connects(tenant_a, team_admin, alert, receiver, settings):  # noqa: F811
    hook = receiver()
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a, url=hook.url)
    settings.WEBHOOK_ALLOWED_NETWORKS = []  # the operator withdrew the allowance after the webhook was made
    outcome = post(webhook, alert)
    assert not outcome.delivered and not outcome.retryable and "private or internal" in outcome.reason
    assert hook.requests == []


def test_the_delivery_connects_to_the_checked_address_and_names_the_host(tenant_a, team_admin, alert, receiver,  # noqa: F811
                                                                         monkeypatch):
    """A name resolved once: the request goes to that address, with the name in Host."""
    hook = receiver()
    port = hook.url.split(":")[2].split("/")[0]
    webhook, _ = create_alert_webhook(actor=team_admin, tenant=tenant_a,
                                      url=f"http://receiver.test:{port}/hooks/budget")
    real = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *a, **k: real("127.0.0.1" if host == "receiver.test"
                                                                          else host, *a, **k))
    assert post(webhook, alert).delivered
    (headers, _), = hook.requests
    assert headers["host"] == f"receiver.test:{port}"
