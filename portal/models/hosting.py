"""Dedicated-hosting requests: a team asks for its own capacity for a model."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from aiplatform.models import TenantOwned
from aiplatform.roles import Region


class HostingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"


class LatencyNeed(models.TextChoices):
    INTERACTIVE = "interactive", "Interactive (first token under 1 s)"
    STANDARD = "standard", "Standard (a few seconds)"
    BATCH = "batch", "Batch (minutes are fine)"


class HostingRequest(TenantOwned):
    """A request for dedicated capacity. Once approved it names the registry endpoint that serves it."""

    alias = models.ForeignKey("registry.ModelAlias", on_delete=models.PROTECT, related_name="hosting_requests")
    expected_requests_per_minute = models.PositiveIntegerField()
    expected_tokens_per_minute = models.PositiveIntegerField(default=0)
    latency_need = models.CharField(max_length=16, choices=LatencyNeed.choices, default=LatencyNeed.STANDARD)
    region = models.CharField(max_length=16, choices=Region.choices, default=Region.GLOBAL)
    business_case = models.TextField()
    status = models.CharField(max_length=16, choices=HostingStatus.choices, default=HostingStatus.PENDING,
                              db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decided_by_label = models.CharField(max_length=254, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    endpoint = models.ForeignKey("registry.Endpoint", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="hosting_requests", help_text="The dedicated endpoint, once approved.")

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="approved") | models.Q(endpoint__isnull=False),
                name="approved_hosting_names_its_endpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"Dedicated {self.alias.name} for {self.tenant.name}"
