"""Model cards: what an alias is for, where it falls short, its licence and terms, and how it scored."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from registry.models.aliases import ModelAlias
from registry.models.http_urls import validate_http_url

# The fields of a card that its owners write, in the order pages and exports show them.
CARD_FIELDS = (
    "summary",
    "use_cases",
    "limitations",
    "failure_modes",
    "license",
    "license_url",
    "license_restrictions",
    "data_residency",
    "data_retention",
    "evaluations",
)


class ModelCard(models.Model):
    """The card of one alias. Every saved change makes a new ``ModelCardVersion``."""

    alias = models.OneToOneField(ModelAlias, on_delete=models.CASCADE, related_name="card")
    summary = models.TextField(blank=True)
    use_cases = models.JSONField(default=list, blank=True, help_text="Tags, e.g. summarization, code, translation.")
    limitations = models.TextField(blank=True)
    failure_modes = models.TextField(blank=True, help_text="Known failure modes.")
    license = models.TextField(blank=True, help_text="Licence or EULA name or text.")
    license_url = models.CharField(max_length=500, blank=True, validators=[validate_http_url])
    license_restrictions = models.TextField(blank=True)
    data_residency = models.CharField(max_length=200, blank=True, help_text="Where prompts are processed and stored.")
    data_retention = models.TextField(blank=True, help_text="The vendor's data-retention terms.")
    evaluations = models.JSONField(default=list, blank=True, help_text="[{name, metric, value, date}]")
    version = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    def __str__(self) -> str:
        return f"Card of {self.alias.name} (v{self.version})"

    def content(self) -> dict:
        return {name: getattr(self, name) for name in CARD_FIELDS}


class ModelCardVersion(models.Model):
    """A snapshot of a card as one edit left it."""

    card = models.ForeignKey(ModelCard, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    content = models.JSONField()
    changed_fields = models.JSONField(default=list)
    note = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["card", "-version"]
        constraints = [models.UniqueConstraint(fields=["card", "version"], name="card_version_once")]

    def __str__(self) -> str:
        return f"{self.card.alias.name} card v{self.version}"
