"""The endpoint health page: every registry endpoint with its circuit state, recent error rate, calls in the
window, time to first byte and calls in flight against its cap. Platform admins and model owners.

The figures are the gateway's (``aiplatform.health.endpoint_report``): in the full stack the shared state in
Redis, the same from any worker; embedded, or with Redis down, this process's own view, and the page says so.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from aiplatform import health
from aiplatform.permissions import require
from registry import selectors as registry
from registry.models import Endpoint

_UNKNOWN = {"state": "closed", "error_rate": 0.0, "calls": 0, "latency_ms": None, "opened_at": None, "in_flight": None}


@dataclass(frozen=True)
class EndpointHealthRow:
    """One endpoint as the page lists it."""

    endpoint: Endpoint
    state: str  # closed | open | half-open
    error_rate: float
    calls: int
    latency_ms: float | None
    opened_at: str | None
    in_flight: int | None  # None: not known (Redis down)


@login_required
def endpoint_health(request: HttpRequest) -> HttpResponse:
    """Every endpoint, the open and half-open ones first."""
    require(request.user, "endpoint.view_health")
    endpoints = list(registry.endpoints())
    report = health.endpoint_report([e.pk for e in endpoints])
    by_id = {row["endpoint_id"]: row for row in report["items"]}
    rows = [EndpointHealthRow(endpoint=e, **{k: by_id.get(e.pk, _UNKNOWN)[k] for k in _UNKNOWN}) for e in endpoints]
    rows.sort(key=lambda row: row.state == "closed")  # stable: the registry's order within each group
    return render(request, "portal/endpoint_health.html", {
        "rows": rows, "view": report["view"], "window_seconds": f"{settings.GATEWAY_BREAKER_WINDOW_SECONDS:g}"})
