"""Guardrail policies: named, versioned rule sets (detectors and actions per stage, residency, payload logging).

``document`` holds the policy's canonical document (``registry.policy_document.canonical``): what it applies
to and what it does. Each change of the document makes a new version, kept as a ``PolicyVersion``, so a
decision recorded as "policy pii-basic v3" can be read back as it was. Whether a policy is enabled and its
description are not part of a version: they change what is shown or whether it runs, never what it does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from registry.models.providers import SLUG


class Policy(models.Model):
    """One policy at its current version."""

    name = models.CharField(max_length=63, unique=True, validators=[SLUG])
    description = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    version = models.PositiveIntegerField(default=1)
    document = models.JSONField(default=dict, blank=True, help_text="The canonical policy document.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "policies"
        constraints = [models.CheckConstraint(condition=models.Q(version__gte=1), name="policy_version_from_one")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class PolicyVersion(models.Model):
    """The document of one version of a policy, as the change that made it left it.

    Goes with its policy when the policy is deleted; the audit trail keeps every change's before and after.
    """

    policy = models.ForeignKey(Policy, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    document = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["policy", "-version"]
        constraints = [models.UniqueConstraint(fields=["policy", "version"], name="policy_version_once")]

    def __str__(self) -> str:
        return f"{self.policy.name} v{self.version}"
