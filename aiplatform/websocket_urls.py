"""WebSocket routes of every app (the portal's live notifications join here)."""

from django.urls import path

from portal.consumers import NotificationConsumer

websocket_urlpatterns: list = [
    path("ws/portal/notifications/", NotificationConsumer.as_asgi()),
]
