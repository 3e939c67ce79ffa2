from __future__ import annotations

from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """What the top bar needs to decide which links to show."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"nav_is_platform_admin": user.is_platform_admin, "nav_is_auditor": user.is_auditor}
