"""The one rule for URL fields: an absolute http:// or https:// URL, nothing a browser would run or resolve elsewhere."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

HTTP_URL_MESSAGE = "Give an http:// or https:// URL."


def validate_http_url(value: str) -> None:
    """Refuse anything but an absolute http(s) URL with a host: ``javascript:``, ``data:`` and relative links
    (rendered as links, those run script in the reader's session) and values with spaces or control characters.

    Not Django's ``URLValidator``: it refuses single-label hosts (``http://vllm:8000/v1``) that base URLs use.
    """
    if not value:
        return
    try:
        parts = urlsplit(value)
    except ValueError:
        raise ValidationError(HTTP_URL_MESSAGE, code="invalid") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not value.startswith(("http://", "https://"))  # the scheme as written, in lower case, first
        or not value.isprintable()
        or any(c.isspace() for c in value)
    ):
        raise ValidationError(HTTP_URL_MESSAGE, code="invalid")
