"""What vendors list in their catalogues, as seen by the last sync: the onboarding candidates."""

from __future__ import annotations

from django.db import models

from registry.models.providers import Provider


class UpstreamModel(models.Model):
    """A model a provider lists (or listed). Sync only records these; onboarding is a person's decision.

    A listing with no endpoint yet is a *new* candidate; an endpoint whose model is no longer
    listed is *vanished* and needs attention.
    """

    provider = models.ForeignKey(Provider, on_delete=models.CASCADE, related_name="upstream_models")
    model_id = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True, help_text="What the listing said (owner, modalities, ...).")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    vanished_at = models.DateTimeField(null=True, blank=True)
    dismissed = models.BooleanField(default=False, help_text="An admin decided not to onboard it.")

    class Meta:
        ordering = ["provider__name", "model_id"]
        constraints = [models.UniqueConstraint(fields=["provider", "model_id"], name="upstream_model_once")]

    def __str__(self) -> str:
        return f"{self.provider.name}:{self.model_id}"

    @property
    def is_listed(self) -> bool:
        return self.vanished_at is None
