"""Public model aliases (the names callers use), their lifecycle, and their routes to endpoints."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models

from registry.models.providers import SLUG, Endpoint

MAX_ROUTE_WEIGHT = 1_000_000  # weights are relative shares; beyond this is a typo
MAX_ROUTE_PRIORITY = 100  # fallback levels

# Path segments of the registry's own pages, so no alias can hide them.
RESERVED_ALIAS_NAMES = frozenset({"manage", "new", "api"})


class AliasKind(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDINGS = "embeddings", "Embeddings"


class AliasStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    EVALUATING = "evaluating", "Evaluating"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


# Which status may follow which. Retired is final; a deprecation may be withdrawn.
ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    AliasStatus.DRAFT: frozenset({AliasStatus.EVALUATING, AliasStatus.APPROVED}),
    AliasStatus.EVALUATING: frozenset({AliasStatus.DRAFT, AliasStatus.APPROVED}),
    AliasStatus.APPROVED: frozenset({AliasStatus.DEPRECATED}),
    AliasStatus.DEPRECATED: frozenset({AliasStatus.APPROVED, AliasStatus.RETIRED}),
    AliasStatus.RETIRED: frozenset(),
}


class ModelAlias(models.Model):
    """A name callers use (``demo-chat``), routed to one or more endpoints, with a lifecycle."""

    name = models.CharField(max_length=100, unique=True, validators=[SLUG])
    kind = models.CharField(max_length=16, choices=AliasKind.choices, default=AliasKind.CHAT)
    status = models.CharField(max_length=16, choices=AliasStatus.choices, default=AliasStatus.DRAFT, db_index=True)
    approved_on = models.DateField(null=True, blank=True)
    deprecated_on = models.DateField(null=True, blank=True)
    sunset_on = models.DateField(null=True, blank=True, help_text="When a deprecated alias stops answering.")
    retired_on = models.DateField(null=True, blank=True)
    replacement = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="owned_model_aliases")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "model alias"
        verbose_name_plural = "model aliases"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(sunset_on__isnull=True) | models.Q(deprecated_on__isnull=True)
                | models.Q(sunset_on__gte=models.F("deprecated_on")),
                name="alias_sunset_after_deprecation",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        super().clean()
        if self.name in RESERVED_ALIAS_NAMES:
            raise ValidationError({"name": f"{self.name!r} is reserved."})
        if self.replacement_id is not None and self.replacement_id == self.pk:
            raise ValidationError({"replacement": "An alias cannot replace itself."})
        if self.sunset_on and self.deprecated_on and self.sunset_on < self.deprecated_on:
            raise ValidationError({"sunset_on": "The sunset cannot come before the deprecation."})

    @property
    def is_deprecated(self) -> bool:
        return self.status == AliasStatus.DEPRECATED

    @property
    def is_callable(self) -> bool:
        return self.status in {AliasStatus.EVALUATING, AliasStatus.APPROVED, AliasStatus.DEPRECATED}


class Route(models.Model):
    """One way to serve an alias: an endpoint, its share of traffic, and its place in the fallback order."""

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="routes")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="routes")
    weight = models.PositiveIntegerField(default=100, help_text="Share of traffic among routes of the same priority.",
                                         validators=[MaxValueValidator(MAX_ROUTE_WEIGHT)])
    priority = models.PositiveSmallIntegerField(default=0, help_text="Fallback order: 0 first, then 1, ...",
                                                validators=[MaxValueValidator(MAX_ROUTE_PRIORITY)])

    class Meta:
        ordering = ["alias__name", "priority", "-weight", "pk"]
        constraints = [models.UniqueConstraint(fields=["alias", "endpoint"], name="route_once_per_endpoint")]

    def __str__(self) -> str:
        return f"{self.alias.name} → {self.endpoint} (w{self.weight}, p{self.priority})"
