"""WebSocket routes of every app (the portal's live notifications join here)."""

websocket_urlpatterns: list = []
