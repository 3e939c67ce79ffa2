"""Shadow results: a call mirrored to an alias's shadow route, stored beside the primary call it copied."""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned

TEXT_CHARS = 20_000  # each answer is kept up to this many characters (the gateway caps them first)


class ShadowResult(TenantOwned):
    """One mirrored call: the primary's answer (as its caller got it) and the shadow endpoint's, with latency,
    tokens and cost of each, for the alias's owners to compare.

    ``request_id`` is the primary call's ledger id (unique: a re-delivered batch is written once). The
    tenant is the caller's team, but the shadow's cost is the platform's: it is no usage event, and no
    team's budget or spend counts it. ``shadow_status`` is 200, or the failure's status (the upstream's
    when it answered with one) with ``shadow_error`` naming it.
    """

    request_id = models.CharField(max_length=128, unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    alias = models.CharField(max_length=100)
    streamed = models.BooleanField(default=False, help_text="The primary call was streamed (the shadow never is).")
    primary_endpoint = models.ForeignKey("registry.Endpoint", on_delete=models.SET_NULL, null=True, related_name="+")
    primary_text = models.TextField(blank=True)
    primary_ttfb_ms = models.FloatField(null=True)
    primary_total_ms = models.FloatField()
    primary_prompt_tokens = models.PositiveIntegerField(default=0)
    primary_completion_tokens = models.PositiveIntegerField(default=0)
    primary_cost = models.DecimalField(max_digits=18, decimal_places=9, default=0)
    shadow_endpoint = models.ForeignKey("registry.Endpoint", on_delete=models.SET_NULL, null=True, related_name="+")
    shadow_text = models.TextField(blank=True)
    shadow_ms = models.FloatField()
    shadow_prompt_tokens = models.PositiveIntegerField(default=0)
    shadow_completion_tokens = models.PositiveIntegerField(default=0)
    shadow_cost = models.DecimalField(max_digits=18, decimal_places=9, default=0,
                                      help_text="Charged to the platform, never to the caller.")
    shadow_status = models.PositiveSmallIntegerField()
    shadow_error = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        indexes = [models.Index(fields=["alias", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.alias} shadow {self.shadow_status}"

    @property
    def shadow_failed(self) -> bool:
        return self.shadow_status != 200

    @property
    def primary_tokens(self) -> int:
        return self.primary_prompt_tokens + self.primary_completion_tokens

    @property
    def shadow_tokens(self) -> int:
        return self.shadow_prompt_tokens + self.shadow_completion_tokens
