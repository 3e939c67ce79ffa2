"""Public model aliases (the names callers use), their lifecycle, and their routes to endpoints."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from registry.models.providers import SLUG, Endpoint

MAX_ROUTE_WEIGHT = 1_000_000  # weights are relative shares; beyond this is a typo
MAX_ROUTE_PRIORITY = 100  # fallback levels

# A route's A/B label as reports show it: short, no spaces.
VARIANT = RegexValidator(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$",
                         "Letters, digits, dots, dashes, underscores; no spaces.")

# Path segments of the registry's own pages, so no alias can hide them.
RESERVED_ALIAS_NAMES = frozenset({"manage", "new", "api"})


class AliasKind(models.TextChoices):
    CHAT = "chat", "Chat"
    EMBEDDINGS = "embeddings", "Embeddings"
    # A prompt API's own alias (registry.models.prompts): no routes; teams subscribe to it as to a model, and
    # its calls (``/v1/prompts/<slug>``) go to the alias of the version called. Made and kept by the prompt's services.
    PROMPT = "prompt", "Prompt API"


# The kinds a person creates an alias of (a prompt API's alias comes with the prompt).
MODEL_KINDS = [(AliasKind.CHAT.value, AliasKind.CHAT.label), (AliasKind.EMBEDDINGS.value, AliasKind.EMBEDDINGS.label)]


class AliasStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    EVALUATING = "evaluating", "Evaluating"
    APPROVED = "approved", "Approved"
    DEPRECATED = "deprecated", "Deprecated"
    RETIRED = "retired", "Retired"


class RoutingStrategy(models.TextChoices):
    """How the gateway orders an alias's routes for a call (``gateway/routing/order.py`` applies it)."""

    WEIGHTED = "weighted", "Weighted: a draw among the first priority, the rest as fallback"
    PRIORITY = "priority", "Priority: strict fallback order"
    LEAST_LATENCY = "least-latency", "Least latency"
    LEAST_COST = "least-cost", "Least cost"
    RULES = "rules", "Rules: the first matching rule names the routes"


class StickyAssignment(models.TextChoices):
    """Whom the weighted draw keeps on one route (variant), for A/B comparisons."""

    NONE = "", "None: every call draws again"
    APPLICATION = "application", "Per application"
    USER = "user", "Per user (the request's user field)"


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
    strategy = models.CharField(max_length=16, choices=RoutingStrategy.choices, default=RoutingStrategy.WEIGHTED,
                                help_text="How calls choose among the routes.")
    sticky = models.CharField(max_length=16, choices=StickyAssignment.choices, blank=True,
                              default=StickyAssignment.NONE,
                              help_text="Keep each application or user on one route of the weighted draw (A/B).")
    batch_discount_percent = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Calls made as lines of a batch (the Batch API) cost this much less, in percent.")
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
    """One way to serve an alias: an endpoint, its share of traffic, and its place in the fallback order.

    A route with a ``shadow_sample`` above zero is a *shadow*: it never serves callers; the gateway
    mirrors that share of the alias's calls to it (a candidate model seen on real traffic). Its
    weight and priority mean nothing.
    """

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="routes")
    endpoint = models.ForeignKey(Endpoint, on_delete=models.PROTECT, related_name="routes")
    weight = models.PositiveIntegerField(default=100, help_text="Share of traffic among routes of the same priority.",
                                         validators=[MaxValueValidator(MAX_ROUTE_WEIGHT)])
    priority = models.PositiveSmallIntegerField(default=0, help_text="Fallback order: 0 first, then 1, ...",
                                                validators=[MaxValueValidator(MAX_ROUTE_PRIORITY)])
    variant = models.CharField(max_length=32, blank=True, validators=[VARIANT],
                               help_text="A/B label for reports, e.g. a, b, control.")
    shadow_sample = models.DecimalField(
        max_digits=5, decimal_places=4, default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(1))],
        help_text="Share of calls mirrored to this route (0..1); above 0 it never serves callers.",
    )

    class Meta:
        ordering = ["alias__name", "priority", "-weight", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["alias", "endpoint"], name="route_once_per_endpoint"),
            models.CheckConstraint(condition=models.Q(shadow_sample__gte=0, shadow_sample__lte=1),
                                   name="route_shadow_sample_is_a_share"),
        ]

    def __str__(self) -> str:
        if self.is_shadow:
            return f"{self.alias.name} → {self.endpoint} (shadow {self.shadow_sample.normalize()})"
        return f"{self.alias.name} → {self.endpoint} (w{self.weight}, p{self.priority})"

    @property
    def is_shadow(self) -> bool:
        return self.shadow_sample > 0
