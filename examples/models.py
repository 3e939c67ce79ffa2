"""The example store: playground exchanges people saved because they worked, for the next person to find.

An example is a copy, not a link: the prompt, the settings, the alias and the chosen answer as they were
when saved, so deleting the conversation (or the comparison) leaves the example whole. It belongs to the
team whose playground made the call (its ``tenant``) and is seen by its author only (private), by that
team's members (team), or by everyone signed in (company).

Tags are the registry's use cases (the tags on model cards), kept in rows of their own so a tag filter is
one indexed join on SQLite and PostgreSQL alike. Upvotes and outdated reports are one per person; their
counts are kept on the example for ordering.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse

from aiplatform.models import TenantOwned
from portal.models.playground import MAX_PROMPT, CallSettings

MAX_TITLE = 200
MAX_TAGS = 8
MAX_REPORT_NOTE = 1000


class Visibility(models.TextChoices):
    PRIVATE = "private", "Only me"
    TEAM = "team", "My team"
    COMPANY = "company", "Everyone in the company"


class Example(TenantOwned, CallSettings):
    """One saved exchange: the turns before the answer, the last prompt, the answer, and how it was called."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+",
                               help_text="Who saved it (kept when they leave: a team example outlives them).")
    title = models.CharField(max_length=MAX_TITLE)
    alias = models.CharField(max_length=100, db_index=True)
    earlier_turns = models.JSONField(default=list, blank=True,
                                     help_text="The conversation before the prompt: [{role, content}].")
    prompt = models.TextField(max_length=MAX_PROMPT)
    answer = models.TextField()
    request_id = models.CharField(max_length=128, blank=True, help_text="The gateway's request id of the answer.")
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.TEAM)
    upvotes = models.PositiveIntegerField(default=0)
    outdated_reports = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-upvotes", "-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(visibility__in=Visibility.values), name="example_visibility_known"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("examples:detail", args=[self.pk])

    @property
    def tag_names(self) -> list[str]:
        return [tag.name for tag in self.tags.all()]


class ExampleTag(models.Model):
    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="tags")
    name = models.SlugField(max_length=50, db_index=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["example", "name"], name="example_tag_once")]

    def __str__(self) -> str:
        return self.name


class ExampleVote(models.Model):
    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="votes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["example", "user"], name="one_vote_per_person")]

    def __str__(self) -> str:
        return f"upvote of {self.example_id} by {self.user_id}"


class ExampleReport(models.Model):
    """Someone found the example outdated (the model changed, the prompt no longer works), and why."""

    example = models.ForeignKey(Example, on_delete=models.CASCADE, related_name="reports")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.CharField(max_length=MAX_REPORT_NOTE, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["example", "user"], name="one_report_per_person")]

    def __str__(self) -> str:
        return f"outdated report of {self.example_id} by {self.user_id}"
