"""What operators see of the endpoints: circuit state, error rate, calls, latency and calls in flight.

``endpoint_report`` is what ``/readyz`` and the portal's endpoint health page show (the gateway app hands it
to ``aiplatform.health`` at start-up, so neither imports the gateway). In the full stack it reads the shared
state in Redis, so every worker answers the same; with Redis down (or in the embedded mode) it is this
process's own view, and says so (``view``).
"""

from __future__ import annotations

from collections.abc import Sequence

import structlog

from gateway.routing.health import health
from gateway.routing.inflight import caps
from gateway.routing.redis_calls import REDIS_ERRORS

log = structlog.get_logger("switchboard.gateway.routing")


def endpoint_report(endpoint_ids: Sequence[int] | None = None) -> dict:
    """``{"view": "shared" | "process", "items": [...]}``: one row per endpoint (the given ones, else every one
    known), each with endpoint_id, state, error_rate, calls, latency_ms, opened_at and in_flight (None: unknown,
    Redis down). Blocking."""
    view, rows = "shared", None
    try:
        rows = health.shared_report(endpoint_ids)
    except REDIS_ERRORS as exc:
        log.warning("endpoint_report_redis_unavailable", error=type(exc).__name__)
    if rows is None:
        view = "process"
        rows = health.report()
        if endpoint_ids is not None:
            wanted = set(endpoint_ids)
            rows = [row for row in rows if row["endpoint_id"] in wanted]
    ids = [row["endpoint_id"] for row in rows]
    try:
        in_flight: dict[int, int] = caps.in_flight(ids)
    except REDIS_ERRORS:
        in_flight = {}  # unknown: shown as such, not as zero
    for row in rows:
        row["in_flight"] = in_flight.get(row["endpoint_id"])
    return {"view": view, "items": rows}
