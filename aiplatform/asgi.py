"""ASGI entry: HTTP to Django, WebSockets to Channels consumers.

The gateway's lean ``/v1/`` application is mounted here too (by the gateway issue), so it
skips Django's session, CSRF and template machinery.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402

django_app = get_asgi_application()

from aiplatform.websocket_urls import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
