"""In-app notifications: kept per person, pushed live over the WebSocket while the portal is open."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title

    def as_message(self) -> dict:
        """What the WebSocket sends (and the page shows)."""
        return {"id": self.pk, "title": self.title, "body": self.body, "link": self.link,
                "created_at": self.created_at.isoformat() if self.created_at else None}
