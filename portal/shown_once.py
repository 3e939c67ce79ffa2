"""A new secret (API key, personal access token) between the POST that made it and the one page that shows it.

Post/redirect/get: the POST keeps the secret in the session and redirects; the GET takes it out and
shows it. A reload of that page finds nothing (the secret is gone, nothing new is made), and a
secret never followed to its page is dropped after ``KEPT_FOR``. The session holds it for those
seconds only; the database keeps only the hash, as always.
"""

from __future__ import annotations

import time

from django.http import HttpRequest

SESSION_KEY = "portal_secret_shown_once"
KEPT_FOR = 600  # seconds


def keep(request: HttpRequest, *, kind: str, pk: int, secret: str, **extra) -> None:
    """Hold ``secret`` of the ``kind`` object ``pk`` (and JSON-able ``extra`` for its page) until it is shown."""
    request.session[SESSION_KEY] = {"kind": kind, "pk": pk, "secret": secret, "at": time.time(), **extra}


def take(request: HttpRequest, *, kind: str, pk: int) -> dict | None:
    """The held secret of that object, removed from the session; None when it was shown already or never held."""
    held = request.session.get(SESSION_KEY)
    if not held or held.get("kind") != kind or held.get("pk") != pk:
        return None
    del request.session[SESSION_KEY]
    if time.time() - held.get("at", 0) > KEPT_FOR:
        return None
    return held
