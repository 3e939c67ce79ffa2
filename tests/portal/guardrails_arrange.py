"""Arranging guardrail decisions for the page tests: calls written through the ledger's intake service."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from portal import services

_ids = itertools.count(1)


def team_key(tenant, name: str = "guarded-bot"):
    application = services.create_application(actor=None, tenant=tenant, name=name)
    return services.create_api_key(actor=None, application=application)[0]


def decision(detector: str = "email", action: str = "mask", *, policy: str = "pii-basic", version: int = 1,
             stage: str = "input", count: int = 1, label: str = "") -> dict:
    return {"policy": policy, "version": version, "stage": stage, "detector": detector,
            "label": label or detector.upper(), "action": action, "count": count}


def decided_call(key, *guard: dict, alias: str = "fast-chat", ago: timedelta = timedelta(minutes=5),
                 payload: dict | None = None, request_id: str = "", at: datetime | None = None) -> str:
    """One call of ``key`` with these decisions (a block among them makes it a 403 policy_violation)."""
    request_id = request_id or f"guard-call-{next(_ids)}"
    blocked = any(d["action"] == "block" for d in guard)
    services.record_gateway_report(usage=[{
        "request_id": request_id, "occurred_at": (at or timezone.now() - ago).isoformat(),
        "tenant_id": key.tenant_id, "application_id": key.application_id, "key_id": key.pk, "alias": alias,
        "endpoint_id": None, "provider_kind": "demo", "operation": "chat", "streamed": False,
        "prompt_tokens": 3, "completion_tokens": 0 if blocked else 4, "total_tokens": 3 if blocked else 7,
        "usage_source": "estimate", "cost": str(Decimal(0)), "ttfb_ms": None, "total_ms": 1.0,
        "status": 403 if blocked else 200, "error_class": "policy_violation" if blocked else "",
        "guard": list(guard) or None, "payload": payload,
    }], refusals=[])
    return request_id
