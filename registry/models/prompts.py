"""Prompt APIs: a prompt template with typed variables, a system prompt, settings and an alias, published as
versions other teams call at ``/v1/prompts/<slug>`` (``@<version>`` or ``@<label>`` to choose one).

- A ``PromptApi`` belongs to the team that publishes it (``tenant``); its ``owners`` add versions, publish
  them and move labels.
- A ``PromptVersion`` is numbered from 1 in the order it was written. It is a draft until published, and
  never changes once published (``save`` refuses): a caller pinned to ``@3`` gets what ``3`` said.
- A ``PromptLabel`` (``production``, ``staging``, …) points at one published version and can move.
- With ``requires_approval``, publishing a version and moving the ``production`` label wait for a second
  person (another owner, or a platform admin): a ``PromptChange`` records the request and the decision.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from aiplatform.models import TenantOwned
from registry.models.providers import SLUG

PRODUCTION = "production"
MAX_TEMPLATE = 100_000
CONTENT_FIELDS = ("template", "system_prompt", "variables", "alias_id", "temperature", "max_tokens")


class PromptApi(TenantOwned):
    slug = models.CharField(max_length=63, unique=True, validators=[SLUG])
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True, max_length=5000)
    owners = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="owned_prompts")
    requires_approval = models.BooleanField(
        default=False, help_text="Publishing a version and moving the production label need a second person.")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PENDING = "pending", "Waiting for approval"
    PUBLISHED = "published", "Published"


class PublishedVersionChanged(Exception):
    """A published version's content was about to change: versions are immutable once published."""


class PromptVersion(models.Model):
    prompt = models.ForeignKey(PromptApi, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    template = models.TextField(max_length=MAX_TEMPLATE, help_text="The user message, with {{ variable }} slots.")
    system_prompt = models.TextField(blank=True, max_length=MAX_TEMPLATE, help_text="May use the variables too.")
    variables = models.JSONField(default=list, help_text="[{name, type, required, default, description}]")
    alias = models.ForeignKey("registry.ModelAlias", on_delete=models.PROTECT, related_name="prompt_versions")
    temperature = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True,
                                      validators=[MinValueValidator(0), MaxValueValidator(2)])
    max_tokens = models.PositiveIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    note = models.CharField(max_length=500, blank=True, help_text="What changed in this version.")
    status = models.CharField(max_length=16, choices=VersionStatus.choices, default=VersionStatus.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+")

    class Meta:
        ordering = ["prompt", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["prompt", "number"], name="prompt_version_once"),
            models.CheckConstraint(condition=models.Q(number__gte=1), name="prompt_version_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.prompt.slug}@{self.number}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            stored = (PromptVersion.objects.filter(pk=self.pk, status=VersionStatus.PUBLISHED)
                      .values(*CONTENT_FIELDS).first())
            if stored is not None and any(stored[f] != getattr(self, f) for f in CONTENT_FIELDS):
                raise PublishedVersionChanged(f"{self} is published: write a new version instead.")
        super().save(*args, **kwargs)

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED


class PromptLabel(models.Model):
    prompt = models.ForeignKey(PromptApi, on_delete=models.CASCADE, related_name="labels")
    name = models.CharField(max_length=40, validators=[SLUG])
    version = models.ForeignKey(PromptVersion, on_delete=models.PROTECT, related_name="labels")
    moved_at = models.DateTimeField(auto_now=True)
    moved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="+")

    class Meta:
        ordering = ["prompt", "name"]
        constraints = [models.UniqueConstraint(fields=["prompt", "name"], name="prompt_label_once")]

    def __str__(self) -> str:
        return f"{self.prompt.slug}@{self.name} → {self.version.number}"


class ChangeKind(models.TextChoices):
    PUBLISH = "publish", "Publish a version"
    MOVE_LABEL = "move_label", "Move a label"


class ChangeStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class PromptChange(models.Model):
    """A publication or label move waiting for (or decided by) a second person."""

    prompt = models.ForeignKey(PromptApi, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=ChangeKind.choices)
    version = models.ForeignKey(PromptVersion, on_delete=models.CASCADE, related_name="changes")
    label = models.CharField(max_length=40, blank=True)
    status = models.CharField(max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.PENDING,
                              db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                     related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # One pending move per label (a publication is pending once per version: its status says so).
            models.UniqueConstraint(fields=["prompt", "label"], condition=models.Q(status="pending", kind="move_label"),
                                    name="one_pending_label_move"),
        ]

    def __str__(self) -> str:
        what = f"move {self.label} to" if self.kind == ChangeKind.MOVE_LABEL else "publish"
        return f"{self.prompt.slug}: {what} {self.version.number} ({self.status})"
