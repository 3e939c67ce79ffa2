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


async def application(scope, receive, send):
    if scope["type"] == "http" and (scope["path"] == "/v1" or scope["path"].startswith("/v1/")):
        await gateway_app(scope, receive, send)  # the lean path: no Django middleware
        return
    if scope["type"] == "lifespan":
        await run_lifespan(receive, send)
        return
    await protocols(scope, receive, send)
