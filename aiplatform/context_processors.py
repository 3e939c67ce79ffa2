from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def navigation(request: HttpRequest) -> dict:
    """What the top bar needs to decide which links to show (signed out: whether anyone may sign up)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"signup_domains": settings.SIGNUP_ALLOWED_DOMAINS}
    return {"nav_is_platform_admin": user.is_platform_admin, "nav_is_auditor": user.is_auditor}
