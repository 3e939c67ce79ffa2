"""OpenAI's Batch API: a team's file of requests, run by the workers through the gateway, answered as files.

A ``Batch`` is created from an uploaded input file (``purpose=batch``); validation turns its lines into
``BatchLine`` rows before any model is called. The runner (``portal.batch_runner``) sends each line to the
gateway like any client, and the gateway itself records each line's answer on its row, once
(``gateway.batch_lines``): a repeat of a line already answered gets the recorded answer, not a second call.
"""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned, TenantScopedQuerySet


class BatchStatus(models.TextChoices):
    VALIDATING = "validating", "Validating"
    FAILED = "failed", "Failed"
    IN_PROGRESS = "in_progress", "In progress"
    FINALIZING = "finalizing", "Finalizing"
    COMPLETED = "completed", "Completed"
    EXPIRED = "expired", "Expired"
    CANCELLING = "cancelling", "Cancelling"
    CANCELLED = "cancelled", "Cancelled"


FINAL_STATUSES = frozenset({BatchStatus.FAILED, BatchStatus.COMPLETED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})


class Batch(TenantOwned):
    """One batch of one key: its input, where it stands, its counts and cost, and its output and error files."""

    id = models.CharField(primary_key=True, max_length=40)
    application_id = models.BigIntegerField()
    key_id = models.BigIntegerField(help_text="The key that created it: every line is called as this key.")
    endpoint = models.CharField(max_length=32)
    input_file_id = models.CharField(max_length=40)
    completion_window = models.CharField(max_length=8, default="24h")
    metadata = models.JSONField(null=True, blank=True)
    # ``output_expires_after``: how long the output and error files are kept from their creation (else the
    # files retention).
    output_keep_seconds = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=BatchStatus.choices, default=BatchStatus.VALIDATING,
                              db_index=True)
    # Validation errors, each {"code", "message", "param", "line"}, as OpenAI's ``errors.data``.
    errors = models.JSONField(null=True, blank=True)
    model = models.CharField(max_length=100, blank=True, help_text="The alias the lines name (the first one).")
    total = models.PositiveIntegerField(default=0)
    completed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cost = models.DecimalField(max_digits=18, decimal_places=9, default=0)
    prompt_tokens = models.BigIntegerField(default=0)
    completion_tokens = models.BigIntegerField(default=0)
    output_file_id = models.CharField(max_length=40, blank=True)
    error_file_id = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    in_progress_at = models.DateTimeField(null=True, blank=True)
    finalizing_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    cancelling_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    # The runner holding the batch and until when; a runner that died (its lease ran out) is replaced.
    runner = models.CharField(max_length=64, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(completed__gte=0), name="batch_counts_sane")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def done(self) -> int:
        return self.completed + self.failed


class LineState(models.TextChoices):
    PENDING = "pending", "Waiting"
    RUNNING = "running", "Being called"
    ANSWERED = "answered", "Answered"  # the gateway answered it (any status code)
    NOT_RUN = "not_run", "Not run"  # stopped before a call: budget spent, batch expired or cancelled


class BatchLine(models.Model):
    """One request of a batch (line ``number`` of the input file) and, once answered, the answer."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="lines")
    number = models.PositiveIntegerField(help_text="The line of the input file, from 1.")
    custom_id = models.CharField(max_length=512)
    body = models.JSONField()
    state = models.CharField(max_length=10, choices=LineState.choices, default=LineState.PENDING)
    # While a gateway process is calling the line; a process that died mid-call lets it go when this passes.
    claimed_until = models.DateTimeField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response = models.JSONField(null=True, blank=True, help_text="The answer's JSON body, as the gateway sent it.")
    request_id = models.CharField(max_length=128, blank=True, help_text="The gateway's id of the call (the ledger's).")
    error_code = models.CharField(max_length=64, blank=True, help_text="Why a line was not run.")
    error_message = models.CharField(max_length=500, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    objects = TenantScopedQuerySet.as_manager()
    tenant_path = "batch__tenant"

    class Meta:
        ordering = ["batch", "number"]
        constraints = [
            models.UniqueConstraint(fields=["batch", "number"], name="batch_line_number_once"),
            models.UniqueConstraint(fields=["batch", "custom_id"], name="batch_line_custom_id_once"),
        ]
        indexes = [models.Index(fields=["batch", "state"])]

    def __str__(self) -> str:
        return f"{self.batch_id}#{self.number} ({self.state})"
