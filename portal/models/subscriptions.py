"""Subscriptions: an application's access to one model alias, granted by an approver or a rule.

``pending → approved | rejected``; an approved subscription may later be ``suspended`` (and
resumed) or ``cancelled``. Rejected and cancelled are final: ask again with a new request.
Every transition is kept in ``SubscriptionTransition`` (who, why, when) and in the audit trail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from aiplatform.models import TenantOwned
from portal.models.applications import Application, DataClassification, Environment


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    SUSPENDED = "suspended", "Suspended"
    CANCELLED = "cancelled", "Cancelled"


# Statuses in which a subscription still counts: at most one per application and alias.
OPEN_STATUSES = (SubscriptionStatus.PENDING, SubscriptionStatus.APPROVED, SubscriptionStatus.SUSPENDED)


class Subscription(TenantOwned):
    """An application's request for, and then grant of, access to one alias."""

    application = models.ForeignKey(Application, on_delete=models.PROTECT, related_name="subscriptions")
    alias = models.ForeignKey("registry.ModelAlias", on_delete=models.PROTECT, related_name="subscriptions")
    status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING,
                              db_index=True)
    use_case = models.CharField(max_length=200, help_text="What the application will do with the model.")
    justification = models.TextField(blank=True, help_text="Why this model, and why this application needs it.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decided_by_label = models.CharField(max_length=254, blank=True,
                                        help_text="The approver's e-mail, 'policy' or 'system'.")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at"]
        constraints = [
            models.UniqueConstraint(fields=["application", "alias"], condition=models.Q(status__in=OPEN_STATUSES),
                                    name="one_open_subscription_per_alias"),
        ]

    def __str__(self) -> str:
        return f"{self.application.name} → {self.alias.name}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class SubscriptionTransition(TenantOwned):
    """One change of a subscription's status: from, to, who and why."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="transitions")
    from_status = models.CharField(max_length=16, choices=SubscriptionStatus.choices, blank=True)
    to_status = models.CharField(max_length=16, choices=SubscriptionStatus.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+")
    actor_label = models.CharField(max_length=254)
    reason = models.TextField(blank=True)
    occurred_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status or '∅'} → {self.to_status} by {self.actor_label}"


class AutoApprovalRule(models.Model):
    """Requests matching a rule are approved at once, with "policy" as the approver.

    A request matches when it names ``alias``, its application runs in ``environment`` (blank:
    any) and sends data no more sensitive than ``max_data_classification``.
    """

    alias = models.ForeignKey("registry.ModelAlias", on_delete=models.CASCADE, related_name="auto_approval_rules")
    environment = models.CharField(max_length=8, choices=Environment.choices, blank=True,
                                   help_text="Blank: any environment.")
    max_data_classification = models.CharField(max_length=16, choices=DataClassification.choices,
                                               default=DataClassification.INTERNAL)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["alias__name", "pk"]

    def __str__(self) -> str:
        env = self.environment or "any environment"
        return f"{self.alias.name}: {env}, up to {self.max_data_classification} data"

    def matches(self, application: Application) -> bool:
        return (
            self.is_active
            and (not self.environment or self.environment == application.environment)
            and DataClassification(application.data_classification).rank
            <= DataClassification(self.max_data_classification).rank
        )
