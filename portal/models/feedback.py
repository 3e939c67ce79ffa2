"""Feedback on one model answer: thumbs up or down, what was wrong, and the model owners' review of it.

Feedback is tied to the gateway's request id of the call that produced the answer, and to its
alias. It comes from a person in the playground (``user`` set) or from an application through
``POST /v1/feedback`` (``application`` and the ``key`` that sent it set). One author gives one
feedback per request id; sending again updates it. Its ``tenant`` is the team whose call it was.

Model owners review it: new → triaged → resolved, each step with a note.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from aiplatform.models import TenantOwned

MAX_COMMENT = 2000  # characters; a longer comment is refused, never cut
MAX_NOTE = 2000


class Rating(models.TextChoices):
    UP = "up", "Good answer"
    DOWN = "down", "Bad answer"


class Category(models.TextChoices):
    HALLUCINATION = "hallucination", "Hallucination"
    INAPPROPRIATE = "inappropriate", "Inappropriate"
    INCORRECT = "incorrect", "Incorrect"
    UNHELPFUL = "unhelpful", "Unhelpful"
    OTHER = "other", "Other"


class Source(models.TextChoices):
    PLAYGROUND = "playground", "Playground"
    API = "api", "API"


class FeedbackStatus(models.TextChoices):
    NEW = "new", "New"
    TRIAGED = "triaged", "Triaged"
    RESOLVED = "resolved", "Resolved"


class Feedback(TenantOwned):
    """One author's verdict on one answer (``request_id``), and where the owners' review of it stands."""

    request_id = models.CharField(max_length=128, db_index=True, help_text="The gateway's x-request-id of the call.")
    alias = models.CharField(max_length=100, db_index=True)
    rating = models.CharField(max_length=8, choices=Rating.choices)
    category = models.CharField(max_length=16, choices=Category.choices, blank=True,
                                help_text="What was wrong; required for a thumbs-down.")
    comment = models.TextField(blank=True, max_length=MAX_COMMENT)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PLAYGROUND)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True,
                             related_name="feedback", help_text="The person (playground feedback).")
    application = models.ForeignKey("portal.Application", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="feedback", help_text="The application (API feedback).")
    key = models.ForeignKey("portal.ApiKey", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                            help_text="The key that sent it (API feedback).")
    status = models.CharField(max_length=16, choices=FeedbackStatus.choices, default=FeedbackStatus.NEW,
                              db_index=True)
    triage_note = models.TextField(blank=True, max_length=MAX_NOTE)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    triaged_at = models.DateTimeField(null=True, blank=True)
    resolution_note = models.TextField(blank=True, max_length=MAX_NOTE)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name_plural = "feedback"
        indexes = [models.Index(fields=["alias", "status", "created_at"])]
        constraints = [
            models.UniqueConstraint(fields=["request_id", "user"], condition=Q(user__isnull=False),
                                    name="one_feedback_per_request_and_person"),
            models.UniqueConstraint(fields=["request_id", "application"],
                                    condition=Q(source="api"), name="one_feedback_per_request_and_application"),
            models.CheckConstraint(condition=Q(rating__in=Rating.values), name="feedback_rating_known"),
            models.CheckConstraint(condition=Q(category__in=[*Category.values, ""]), name="feedback_category_known"),
            models.CheckConstraint(condition=Q(status__in=FeedbackStatus.values), name="feedback_status_known"),
            # An application's feedback names the application and key, never a person; a person's names no key.
            models.CheckConstraint(
                condition=Q(source="playground", key__isnull=True, application__isnull=True)
                | Q(source="api", key__isnull=False, application__isnull=False, user__isnull=True),
                name="feedback_author_matches_source"),
        ]

    def __str__(self) -> str:
        return f"{self.rating} on {self.alias} ({self.request_id})"

    @property
    def author_label(self) -> str:
        """Who gave it, as the owners' queue shows it."""
        if self.source == Source.API:
            return f"{self.application.name} (key {self.key.key_prefix}…)" if self.application_id else "an application"
        return self.user.email if self.user_id else "a person"
