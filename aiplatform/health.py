"""Liveness and readiness probes."""

from __future__ import annotations

import uuid

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("wrote a value and could not read it back")
    cache.delete(key)


def _check_broker() -> None:
    from aiplatform.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency reachable: 200; otherwise 503 naming what is down (and why, briefly)."""
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except (TimeoutError, Exception) as exc:  # a probe reports every failure, it never raises
            results[name] = f"down: {type(exc).__name__}: {str(exc)[:200]}"
    ok = all(v == "ok" for v in results.values())
    body = {"status": "ok" if ok else "unavailable", "checks": results}
    if not ok:
        body["down"] = [name for name, v in results.items() if v != "ok"]
    return JsonResponse(body, status=200 if ok else 503)
