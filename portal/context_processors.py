from __future__ import annotations

from functools import cached_property, partial

from django.http import HttpRequest

from portal.selectors import unread_notification_count


def notifications(request: HttpRequest) -> dict:
    """The signed-in person's unread notifications, counted only on a page that shows the number."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"unread_notifications": partial(unread_notification_count, user)}  # templates call it lazily


class _GuardrailLinks:
    """Which guardrails pages the portal's menu links for this person; asked only on pages that show the menu."""

    def __init__(self, user) -> None:
        self._user = user

    @cached_property
    def dashboard(self) -> bool:
        from portal.permissions import may_view_guardrails

        return may_view_guardrails(self._user)

    @cached_property
    def dry_run(self) -> bool:
        from portal.permissions import may_dry_run

        return may_dry_run(self._user)


def guardrail_links(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"guardrail_links": _GuardrailLinks(user)}
