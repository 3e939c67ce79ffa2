"""Applications: what a team registers before it may ask for access to models."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from aiplatform.models import TenantOwned


class DataClassification(models.TextChoices):
    """What an application will send to models, least sensitive first."""

    PUBLIC = "public", "Public"
    INTERNAL = "internal", "Internal"
    CONFIDENTIAL = "confidential", "Confidential"
    RESTRICTED = "restricted", "Restricted"

    @property
    def rank(self) -> int:
        return list(DataClassification).index(self)


class Environment(models.TextChoices):
    DEV = "dev", "Development"
    PROD = "prod", "Production"


class Application(TenantOwned):
    """A program of a team that calls models through the gateway with the team's keys."""

    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", help_text="Who answers for it.")
    data_classification = models.CharField(max_length=16, choices=DataClassification.choices,
                                           default=DataClassification.INTERNAL,
                                           help_text="The most sensitive data it will send.")
    environment = models.CharField(max_length=8, choices=Environment.choices, default=Environment.DEV)
    is_playground = models.BooleanField(default=False, editable=False,
                                        help_text="The team's playground: managed by the portal, keys per person.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="application_name_unique_per_tenant"),
            models.UniqueConstraint(fields=["tenant"], condition=models.Q(is_playground=True),
                                    name="one_playground_per_tenant"),
        ]

    def __str__(self) -> str:
        return self.name
