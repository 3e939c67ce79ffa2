from __future__ import annotations

from functools import partial

from django.http import HttpRequest

from portal.selectors import unread_notification_count


def notifications(request: HttpRequest) -> dict:
    """The signed-in person's unread notifications, counted only on a page that shows the number."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": partial(unread_notification_count, user)}  # templates call it lazily
