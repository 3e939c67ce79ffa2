"""A revoked key stops working through the database check when Redis hangs (accepts, never answers)."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from django.db import connections

from gateway.state import GatewayState
from portal import services
from tests.aiplatform.redis_outages import answer_within, hung_redis_url


@pytest.mark.django_db(transaction=True)
def test_a_revocation_reaches_the_gateway_while_redis_hangs(settings, monkeypatch, api_key, developer):
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)  # the loader threads close theirs
    with hung_redis_url() as url:
        settings.REDIS_URL = url
        state = GatewayState()

        async def revoke_and_poll() -> bool:
            await state.refresh(force=True)
            assert not state.snapshot.keys[api_key.key_hash].revoked
            await sync_to_async(services.revoke_api_key)(actor=developer, key=api_key)
            await state.refresh()  # one poll: Redis does not answer, so the database says what changed
            revoked = state.snapshot.keys[api_key.key_hash].revoked
            await state.stop()
            await sync_to_async(connections.close_all)()
            return revoked

        revoked = answer_within(5, lambda: asyncio.run(revoke_and_poll()))
    assert revoked
