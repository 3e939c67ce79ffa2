"""The usage ledger: one row per call through the gateway, written in batches off the request path."""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned


class UsageEvent(TenantOwned):
    """One call: who made it, which model and endpoint served it, tokens, cost, latency and outcome.

    ``request_id`` is the gateway's own id for the call, minted per call and unique, so writing a
    batch twice (a retried flush) records each call once. ``client_request_id`` is the caller's
    ``X-Request-Id``, kept for searching only: callers choose it, so it may repeat.
    """

    request_id = models.CharField(max_length=128, unique=True)
    client_request_id = models.CharField(max_length=128, blank=True, db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    application = models.ForeignKey("portal.Application", on_delete=models.PROTECT, related_name="usage_events")
    key = models.ForeignKey("portal.ApiKey", on_delete=models.PROTECT, related_name="usage_events")
    alias = models.CharField(max_length=100, db_index=True)
    endpoint = models.ForeignKey("registry.Endpoint", on_delete=models.SET_NULL, null=True, related_name="+")
    provider_kind = models.CharField(max_length=32, blank=True)
    operation = models.CharField(max_length=16)  # chat | embeddings | messages
    streamed = models.BooleanField(default=False)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    usage_source = models.CharField(max_length=16, blank=True, help_text="provider, tokenizer or estimate")
    cost = models.DecimalField(max_digits=18, decimal_places=9, default=0)
    ttfb_ms = models.FloatField(null=True)
    total_ms = models.FloatField()
    status = models.PositiveSmallIntegerField()
    error_class = models.CharField(max_length=64, blank=True)
    # Limits in shadow mode that would have refused this call ("key:requests_per_minute,tenant:cost_per_day").
    shadow_limits = models.CharField(max_length=300, blank=True)
    # Routing: the A/B variant (route label) that served the call, how many tries it took, and each try
    # when there was more than one (endpoint_id, status, error, ms) — failed tries are never charged.
    variant = models.CharField(max_length=100, blank=True)
    attempt_count = models.PositiveSmallIntegerField(default=1)
    attempts = models.JSONField(null=True, blank=True)
    # Guardrails: the decisions that fired on the call (policy, version, stage, detector, label, action, count;
    # never the value found), as the gateway recorded them; also one GuardDecision row each, for the dashboard.
    guard = models.JSONField(null=True, blank=True)
    # The batch this call was a line of (the Batch API), empty for a live call; priced at the alias's batch discount.
    batch_id = models.CharField(max_length=40, blank=True, db_index=True)
    # The prompt API this call was (``/v1/prompts/<slug>``) and its version; empty for a plain call. ``alias`` is the
    # model the version called, so the model's usage includes its prompts'.
    prompt = models.CharField(max_length=63, blank=True, db_index=True)
    prompt_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [models.Index(fields=["tenant", "occurred_at"]), models.Index(fields=["application", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.alias} {self.status}"
