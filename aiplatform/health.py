"""Liveness and readiness probes."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, JsonResponse

# Longest /readyz waits for the cache and the broker together. Each client has its own socket
# timeouts too; this bound holds even for one configured without them (a hung Redis accepts the
# connection and never answers, which once kept /readyz from answering for more than 15 s).
CHECK_DEADLINE_SECONDS = 2.0

# The gateway's view of its upstream endpoints (circuit state, error rate, latency, calls in flight), handed
# over by the gateway app at start-up: the core never imports the gateway (DESIGN.md's dependency direction).
EndpointReport = Callable[[Sequence[int] | None], dict]
_endpoint_report: EndpointReport | None = None


def provide_endpoint_report(report: EndpointReport) -> None:
    """Register the function that reports the endpoints' health (``gateway.routing.report.endpoint_report``)."""
    global _endpoint_report
    _endpoint_report = report


def endpoint_report(endpoint_ids: Sequence[int] | None = None) -> dict:
    """``{"view": "shared" | "process" | "none", "items": [{endpoint_id, state, error_rate, calls, latency_ms,
    opened_at, in_flight}, ...]}`` for the given endpoints (None: every one the gateway knows)."""
    if _endpoint_report is None:
        return {"view": "none", "items": []}
    return _endpoint_report(endpoint_ids)


def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and serving. Touches nothing else."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    check = getattr(cache, "check", None)  # our Redis cache degrades on errors; its check() does not
    if check is not None:
        check()
        return
    key = f"readyz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("wrote a value and could not read it back")
    cache.delete(key)


def _check_broker() -> None:
    from aiplatform.celery import app

    with app.connection_for_write() as unopened:
        url = unopened.as_uri(include_password=True)
    if url.startswith(("redis://", "rediss://")):  # kombu's own connect may wait far longer on a hung Redis
        import redis

        timeout = settings.REDIS_TIMEOUT_SECONDS
        with redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as client:
            client.ping()
        return
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=CHECK_DEADLINE_SECONDS)


def _bounded(checks: dict, deadline: float) -> dict[str, str]:
    """Run ``checks`` side by side in daemon threads; one still running at the deadline is reported down."""
    results: dict[str, str] = {}

    def run(name, check) -> None:
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a probe reports every failure, it never raises
            results[name] = f"down: {type(exc).__name__}: {str(exc)[:200]}"

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"readyz-{item[0]}") for item in checks.items()]
    for thread in threads:
        thread.start()
    ends = time.monotonic() + deadline
    for thread in threads:
        thread.join(max(0.0, ends - time.monotonic()))
    return {name: results.get(name, f"down: no answer within {deadline:g} s") for name in checks}


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


def readyz(request: HttpRequest) -> JsonResponse:
    """Every dependency reachable: 200; otherwise 503 naming what is down (and why, briefly).

    The database is checked in the request's thread (its connection belongs to it); the cache and the
    broker in threads bounded by ``CHECK_DEADLINE_SECONDS``, so a hung Redis costs the probe that long.
    ``endpoints`` (read beside them, within the same bound) is the gateway's health of each upstream endpoint:
    circuit state, recent error rate, calls in the window, time to first byte, calls in flight.
    """
    results: dict[str, str] = {}
    try:
        CHECKS["database"]()
        results["database"] = "ok"
    except Exception as exc:  # a probe reports every failure, it never raises
        results["database"] = f"down: {type(exc).__name__}: {str(exc)[:200]}"
    endpoints: dict = {}
    results.update(_bounded({"cache": CHECKS["cache"], "broker": CHECKS["broker"],
                             "endpoints": lambda: endpoints.update(endpoint_report())}, CHECK_DEADLINE_SECONDS))
    # The endpoints' health is detail, not readiness: an upstream's open circuit does not make this server unready.
    endpoints_read = results.pop("endpoints")
    ok = all(v == "ok" for v in results.values())
    body = {"status": "ok" if ok else "unavailable", "checks": results,
            "endpoints": endpoints if endpoints_read == "ok" else {"view": "unavailable", "items": []}}
    if not ok:
        body["down"] = [name for name, v in results.items() if v != "ok"]
    return JsonResponse(body, status=200 if ok else 503)
