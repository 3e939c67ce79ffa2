"""Every change to what a key may do moves the "keys" config version, so gateways reload."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aiplatform.config_version import current
from portal import services


class Moves:
    def __init__(self):
        self.last = current("keys")

    def __call__(self) -> bool:
        now = current("keys")
        moved, self.last = now > self.last, now
        return moved


@pytest.mark.smoke
def test_each_change_bumps_keys(pending, model_owner, developer, app):
    moved = Moves()
    services.approve_subscription(actor=model_owner, subscription=pending)
    assert moved()
    key, _ = services.create_api_key(actor=developer, application=app)
    assert moved()
    services.set_key_ip_allowlist(actor=developer, key=key, ip_allowlist=["10.0.0.0/8"])
    assert moved()
    new, _ = services.rotate_api_key(actor=developer, key=key, overlap=timedelta(minutes=5))
    assert moved()
    services.suspend_subscription(actor=model_owner, subscription=pending, comment="pause")
    assert moved()
    services.resume_subscription(actor=model_owner, subscription=pending)
    assert moved()
    services.update_application(actor=developer, application=app, environment="prod")
    assert moved()
    services.revoke_api_key(actor=developer, key=new)
    assert moved()
    services.cancel_subscription(actor=developer, subscription=pending)
    assert moved()


def test_a_pending_request_does_not_bump(app, alias, developer):
    moved = Moves()
    services.request_subscription(actor=developer, application=app, alias=alias, use_case="later")
    assert not moved()
