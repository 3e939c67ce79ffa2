"""The record of guardrail decisions: what each policy's rules did to a call, and the payloads kept of calls.

The gateway puts a call's decisions (``guard``) and, when the tenant's payload logging is not off, its text
(``payload``) on its usage event; the ledger's intake writes them here in the same transaction as the
ledger row (``portal.services.guardrails``). A decision names the policy, its version, the stage, the
detector, the label and the action with how many times it fired: never the value found.
"""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned
from registry.policy_spec import PAYLOAD_FULL, PAYLOAD_METADATA, PAYLOAD_REDACTED

PAYLOAD_TEXT_CHARS = 1_000_000  # a bound on each stored text (the gateway's request limits are lower)


class GuardDecision(TenantOwned):
    """One decision that fired on one call: policy ``policy`` v``policy_version``'s rule for ``detector`` at
    ``stage`` did ``action`` (flag, mask, block; or unscanned for an image, invalid for a json_schema failure)
    ``count`` times.

    ``request_id`` is the ledger's id of the call and ``position`` the decision's place in the call's list,
    unique together, so an event written twice (a retried batch) records its decisions once.
    """

    request_id = models.CharField(max_length=128)
    position = models.PositiveSmallIntegerField(default=0)
    occurred_at = models.DateTimeField()
    application = models.ForeignKey("portal.Application", on_delete=models.SET_NULL, null=True, related_name="+")
    alias = models.CharField(max_length=100)
    policy = models.CharField(max_length=63, blank=True)  # "" for an image (no policy decided it)
    policy_version = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=8)  # input | output
    detector = models.CharField(max_length=32)
    label = models.CharField(max_length=100, blank=True)
    action = models.CharField(max_length=16)  # flag | mask | block | unscanned | invalid
    count = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-occurred_at", "request_id", "position"]
        constraints = [models.UniqueConstraint(fields=["request_id", "position"], name="guard_decision_once")]
        indexes = [
            models.Index(fields=["occurred_at"], name="guard_decision_time"),
            models.Index(fields=["tenant", "occurred_at"], name="guard_decision_tenant_time"),
            models.Index(fields=["alias", "occurred_at"], name="guard_decision_alias_time"),
            models.Index(fields=["action", "occurred_at"], name="guard_decision_action_time"),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} {self.policy} v{self.policy_version} {self.stage} {self.detector} {self.action}"


class PayloadMode(models.TextChoices):
    """What the tenant's payload logging kept of a call (``off`` keeps no record at all)."""

    METADATA = PAYLOAD_METADATA, "Metadata only (sizes, no text)"
    REDACTED = PAYLOAD_REDACTED, "Redacted (the text as masked for the model)"
    FULL = PAYLOAD_FULL, "Full (the original text)"


class PayloadRecord(TenantOwned):
    """A call's request and response text as its tenant's payload logging kept it, pruned after
    ``PAYLOAD_RETENTION_DAYS``. Read by platform auditors only, and every reading is audited."""

    request_id = models.CharField(max_length=128, unique=True)
    occurred_at = models.DateTimeField(db_index=True)
    alias = models.CharField(max_length=100)
    mode = models.CharField(max_length=16, choices=PayloadMode.choices)
    # None (not kept: metadata mode, or no answer) differs from "" (an empty text), hence null on a text field.
    request_text = models.TextField(null=True, blank=True)  # noqa: DJ001
    response_text = models.TextField(null=True, blank=True)  # noqa: DJ001
    messages = models.PositiveIntegerField(default=0)
    chars = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-occurred_at"]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.mode})"
