"""ASGI entry: lifespan hooks, HTTP to Django, WebSockets to Channels consumers.

The gateway's lean ``/v1/`` application is mounted here too (by the gateway issue), so it
skips Django's session, CSRF and template machinery.
"""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_app = get_asgi_application()

from aiplatform.lifespan import run_lifespan  # noqa: E402
from aiplatform.websocket_urls import websocket_urlpatterns  # noqa: E402
from gateway.asgi import application as gateway_app  # noqa: E402

protocols = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)


_UNREADABLE_BODY = b"The request body could not be read: the connection closed early or the chunked encoding was malformed."


async def _django_http(scope, receive, send):
    """Django, plus a 400 when the request body could not be read.

    Granian hands the application a body it cannot parse (``zz`` as a chunk size) as
    ``http.disconnect``; Django then returns without answering and granian sends its own bare 500.
    Here, if the body ended in a disconnect and nothing was answered, a 400 is sent: a caller that
    is really gone never sees it, one that sent a malformed body learns why. (Pages only; the
    gateway answers this itself, in its own error shape.)
    """
    body_done = broken = started = False

    async def watched_receive():
        nonlocal body_done, broken
        message = await receive()
        if message["type"] == "http.disconnect" and not body_done:
            broken = True
        elif message["type"] == "http.request" and not message.get("more_body"):
            body_done = True
        return message

    async def watched_send(message):
        nonlocal started
        if message["type"] == "http.response.start":
            started = True
        await send(message)

    await protocols(scope, watched_receive, watched_send)
    if broken and not started:
        try:
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                    (b"content-length", str(len(_UNREADABLE_BODY)).encode())]})
            await send({"type": "http.response.body", "body": _UNREADABLE_BODY})
        except Exception:  # noqa: BLE001 — the caller is really gone: nobody to answer
            pass


async def application(scope, receive, send):
    if scope["type"] == "http" and (scope["path"] == "/v1" or scope["path"].startswith("/v1/")):
        await gateway_app(scope, receive, send)  # the lean path: no Django middleware
        return
    if scope["type"] == "lifespan":
        await run_lifespan(receive, send)
        return
    if scope["type"] == "http":
        await _django_http(scope, receive, send)
        return
    await protocols(scope, receive, send)
