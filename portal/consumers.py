"""Live notifications: each open portal page of a signed-in person listens on their group."""

from __future__ import annotations

import json

from channels.generic.websocket import AsyncWebsocketConsumer

from portal.notifications import group_name


class NotificationConsumer(AsyncWebsocketConsumer):
    """Sends ``{"type": "notification", "notification": {...}}`` for each new notification of the user."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group = group_name(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        group = getattr(self, "group", None)
        if group:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        """The page says nothing that matters; a ping gets a pong so proxies keep the socket open."""
        if text_data == "ping":
            await self.send(text_data="pong")

    async def notification_created(self, event: dict) -> None:
        await self.send(text_data=json.dumps({"type": "notification", "notification": event["notification"]}))
