"""Writing what shadow traffic produced: each mirrored call beside the primary call it copied."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import structlog
from django.db import transaction

from aiplatform.models import Tenant
from portal.models import ShadowResult
from portal.models.shadow import TEXT_CHARS
from registry.models import Endpoint

log = structlog.get_logger(__name__)

_FIELDS = {f.attname for f in ShadowResult._meta.concrete_fields if not f.primary_key}


def record_shadow_results(*, results: list[dict[str, Any]]) -> int:
    """Write a batch the gateway published (JSON-decoded: times as ISO strings, costs as decimal strings).

    Idempotent: a result already stored (same primary request id) is skipped, so a re-delivered batch is
    written once. An endpoint deleted since is kept as none; a result whose team is gone is dropped (logged).
    Returns how many rows the batch offered for writing. Three queries.
    """
    if not results:
        return 0
    endpoints = {r.get(k) for r in results for k in ("primary_endpoint_id", "shadow_endpoint_id")} - {None}
    live_endpoints = set(Endpoint.objects.filter(pk__in=endpoints).values_list("pk", flat=True))
    live_tenants = set(Tenant.objects.filter(pk__in={r["tenant_id"] for r in results}).values_list("pk", flat=True))
    rows = []
    for r in results:
        if r["tenant_id"] not in live_tenants:
            log.warning("shadow_result_dropped", request_id=r.get("request_id"), reason="unknown tenant")
            continue
        row = {k: v for k, v in r.items() if k in _FIELDS}
        row["occurred_at"] = datetime.fromisoformat(r["occurred_at"]) if isinstance(r["occurred_at"], str) \
            else r["occurred_at"]
        row["primary_cost"], row["shadow_cost"] = Decimal(str(r["primary_cost"])), Decimal(str(r["shadow_cost"]))
        row["primary_text"], row["shadow_text"] = r["primary_text"][:TEXT_CHARS], r["shadow_text"][:TEXT_CHARS]
        row["shadow_error"] = (r.get("shadow_error") or "")[:64]
        for key in ("primary_endpoint_id", "shadow_endpoint_id"):
            if row.get(key) not in live_endpoints:
                row[key] = None
        rows.append(ShadowResult(**row))
    with transaction.atomic():
        ShadowResult.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
