"""Telling people what happened to their requests: a stored notification, an e-mail, a live push.

``notify`` is called inside a service's transaction; the row is written with the change, and the
e-mail and the WebSocket push leave only once the transaction commits (never for a rolled-back
change). A failed push or e-mail is logged and does not undo anything: the row is still there
for the next page load.
"""

from __future__ import annotations

import structlog
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from portal.models import Notification

log = structlog.get_logger(__name__)


def group_name(user_id: int) -> str:
    """The channel-layer group of one person's open portal pages."""
    return f"portal.notifications.{user_id}"


def push(user_id: int, message: dict) -> None:
    """Send ``message`` to every open WebSocket of ``user_id`` (no-op without listeners)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group_name(user_id), {"type": "notification.created", "notification": message})
    except Exception:  # the stored notification is the record; the push is a courtesy
        log.warning("notification_push_failed", user_id=user_id, exc_info=True)


def notify(*, user, title: str, body: str = "", link: str = "", email: bool = True,
           about: dict | None = None) -> Notification | None:
    """Store a notification for ``user`` and, on commit, e-mail it and push it live. ``user`` None: nobody.

    ``about`` names what changed (``{"subscription": 12}``); it travels with the live push only, so an
    open page can refresh that part of itself.
    """
    if user is None or not user.is_active:
        return None
    notification = Notification.objects.create(user=user, title=title[:200], body=body, link=link)
    message = {**notification.as_message(), **({"about": about} if about else {})}
    address = user.email
    absolute_link = settings.SITE_URL.rstrip("/") + link if link.startswith("/") else link

    def deliver() -> None:
        if email:
            send_mail(subject=f"[Switchboard] {title}", message=f"{body}\n\n{absolute_link}\n".lstrip(),
                      from_email=None, recipient_list=[address], fail_silently=True)
        push(user.pk, message)

    transaction.on_commit(deliver)
    return notification
