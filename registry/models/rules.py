"""Routing rules: for an alias with the ``rules`` strategy, which of its routes serve which calls.

A rule has conditions on the caller (team, the team's region, the application's environment and
data classification) and on the request (what it needs, its prompt length) and names routes of
its alias in the order to try them. All given conditions must match; within one list any value
matches; an empty list matches anything. The first matching rule wins; when none does, every route
serves in priority order.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models

from aiplatform.roles import Region
from registry.models.aliases import ModelAlias, Route

# What a request may need of an endpoint, as the gateway names it (``gateway.routing.order.needs_of``).
RULE_CAPABILITIES = ("tools", "vision", "json_schema")
# portal's Environment and DataClassification values. The registry may not import portal (imports go
# gateway → portal → registry), so they are repeated here; tests/registry/test_routing_rules.py keeps
# them equal.
RULE_ENVIRONMENTS = ("dev", "prod")
RULE_CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

# Each list condition and the values it takes (None: team slugs, checked against the teams by the services).
CONDITION_VALUES: dict[str, tuple[str, ...] | None] = {
    "tenants": None,
    "regions": tuple(Region.values),
    "environments": RULE_ENVIRONMENTS,
    "classifications": RULE_CLASSIFICATIONS,
    "capabilities": RULE_CAPABILITIES,
}
CONDITION_LISTS = tuple(CONDITION_VALUES)
CONDITION_KEYS = (*CONDITION_LISTS, "min_prompt_tokens", "max_prompt_tokens")


def canonical_values(condition: str, values: Iterable[str]) -> tuple[str, ...]:
    """One order per condition (the choices' order; team slugs sorted), duplicates dropped: equal rules compare equal."""
    allowed = CONDITION_VALUES[condition]
    given = set(values)
    return tuple(v for v in allowed if v in given) if allowed is not None else tuple(sorted(given))


class RoutingRule(models.Model):
    """One rule of an alias: conditions, and (``targets``) the routes to try in order when they match."""

    alias = models.ForeignKey(ModelAlias, on_delete=models.CASCADE, related_name="routing_rules")
    position = models.PositiveSmallIntegerField(help_text="The rules are tried in this order, 1 first.")
    tenants = models.JSONField(default=list, blank=True, help_text="Team slugs.")
    regions = models.JSONField(default=list, blank=True, help_text="The team's region.")
    environments = models.JSONField(default=list, blank=True, help_text="The application's environment.")
    classifications = models.JSONField(default=list, blank=True, help_text="The application's data classification.")
    capabilities = models.JSONField(default=list, blank=True, help_text="What the request needs (any of them).")
    min_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    max_prompt_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["alias", "position"]
        constraints = [
            models.UniqueConstraint(fields=["alias", "position"], name="routing_rule_position_once"),
            models.CheckConstraint(
                condition=models.Q(min_prompt_tokens__isnull=True) | models.Q(max_prompt_tokens__isnull=True)
                | models.Q(max_prompt_tokens__gte=models.F("min_prompt_tokens")),
                name="routing_rule_prompt_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alias.name} rule {self.position}"

    def conditions(self) -> dict[str, object]:
        """The conditions that are set, by name (what files and pages show)."""
        given = {name: getattr(self, name) for name in CONDITION_LISTS if getattr(self, name)}
        for name in ("min_prompt_tokens", "max_prompt_tokens"):
            if getattr(self, name) is not None:
                given[name] = getattr(self, name)
        return given

    @property
    def conditions_text(self) -> str:
        """The conditions as a person reads them: ``regions eu, uk; prompt tokens from 30000``."""
        parts = [f"{name} {', '.join(getattr(self, name))}" for name in CONDITION_LISTS if getattr(self, name)]
        if self.min_prompt_tokens is not None:
            parts.append(f"prompt tokens from {self.min_prompt_tokens}")
        if self.max_prompt_tokens is not None:
            parts.append(f"prompt tokens up to {self.max_prompt_tokens}")
        return "; ".join(parts) or "any call"

    def clean(self) -> None:
        super().clean()
        errors = {}
        for name, allowed in CONDITION_VALUES.items():
            values = getattr(self, name)
            if not isinstance(values, list) or any(not isinstance(v, str) for v in values):
                errors[name] = "Give a list of names."
            elif allowed is not None and (unknown := [v for v in values if v not in allowed]):
                errors[name] = f"Unknown {', '.join(unknown)}; use {', '.join(allowed)}."
        low, high = self.min_prompt_tokens, self.max_prompt_tokens
        if low is not None and high is not None and high < low:
            errors["max_prompt_tokens"] = "The maximum cannot be below the minimum."
        if errors:
            raise ValidationError(errors)


class RoutingRuleTarget(models.Model):
    """A route a rule sends calls to, at its place in the rule's order.

    RESTRICT, not CASCADE: a route a rule names cannot disappear under it (the rule would then send
    calls elsewhere than it says) — except with its whole alias.
    """

    rule = models.ForeignKey(RoutingRule, on_delete=models.CASCADE, related_name="targets")
    route = models.ForeignKey(Route, on_delete=models.RESTRICT, related_name="rule_targets")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["rule", "position"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "route"], name="routing_rule_target_once"),
            models.UniqueConstraint(fields=["rule", "position"], name="routing_rule_target_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} → {self.route.endpoint}"
