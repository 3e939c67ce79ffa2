"""A decision reaches the requester's open portal page over the WebSocket."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connections
from django.test import Client

from portal import services


@pytest.fixture(autouse=True)
async def _close_worker_thread_connections():
    """The ORM calls above run in asgiref's worker thread; close its connection so the test database can go."""
    yield
    await sync_to_async(connections.close_all)()


def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def _connect(cookie: bytes | None) -> WebsocketCommunicator:
    from aiplatform.asgi import application

    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if cookie:
        headers.append((b"cookie", cookie))
    return WebsocketCommunicator(application, "/ws/portal/notifications/", headers=headers)


@pytest.mark.smoke
@pytest.mark.django_db(transaction=True)
async def test_the_requester_sees_the_approval_live(pending, model_owner, developer):
    communicator = await _connect(await sync_to_async(_session_cookie)(developer))
    connected, _ = await communicator.connect()
    assert connected

    await sync_to_async(services.approve_subscription)(actor=model_owner, subscription=pending, comment="Go ahead")

    message = await communicator.receive_json_from(timeout=5)
    assert message["type"] == "notification"
    assert message["notification"]["title"] == "checkout-bot: access to fast-chat approved"
    assert "Go ahead" in message["notification"]["body"]
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_someone_elses_decision_is_not_pushed_to_me(pending, model_owner, tenant_a, make_member):
    bystander = await sync_to_async(make_member)(tenant_a)
    communicator = await _connect(await sync_to_async(_session_cookie)(bystander))
    assert (await communicator.connect())[0]

    await sync_to_async(services.approve_subscription)(actor=model_owner, subscription=pending)

    assert await communicator.receive_nothing(timeout=0.5)
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_signed_out_pages_are_refused():
    communicator = await _connect(None)

    connected, code = await communicator.connect()

    assert not connected and code == 4401
