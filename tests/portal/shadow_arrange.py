"""Arranging shadow traffic tests: results as the gateway publishes them and the worker writes them.

Plain functions: each test says what it arranges.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from portal.models import ShadowResult
from portal.services.shadow import record_shadow_results


def shadow_result(tenant, alias, *, occurred_at: datetime | None = None, **fields) -> ShadowResult:
    """One mirrored call of ``alias`` by ``tenant``, written by the service the Celery task calls."""
    endpoint = alias.routes.first().endpoint
    result = {
        "request_id": secrets.token_hex(16), "occurred_at": (occurred_at or timezone.now()).isoformat(),
        "tenant_id": tenant.pk, "alias": alias.name, "streamed": False,
        "primary_endpoint_id": endpoint.pk, "primary_text": "Paris.", "primary_ttfb_ms": 90.0,
        "primary_total_ms": 100.0, "primary_prompt_tokens": 10, "primary_completion_tokens": 3,
        "primary_cost": "0.000016", "shadow_endpoint_id": endpoint.pk, "shadow_text": "Paris, of course.",
        "shadow_ms": 300.0, "shadow_prompt_tokens": 10, "shadow_completion_tokens": 5, "shadow_cost": "0.0001",
        "shadow_status": 200, "shadow_error": "",
        **fields,
    }
    result = {k: str(v) if isinstance(v, Decimal) else v for k, v in result.items()}
    record_shadow_results(results=[result])
    return ShadowResult.objects.get(request_id=result["request_id"])
