"""The audit trail: append-only, hash-chained events.

Each row stores the hash of the row before it (``prev_hash``) and its own keyed hash
(HMAC-SHA256 with ``AUDIT_HMAC_KEY``) over its content, and a gap-free ``seq``. Editing,
deleting or inserting a row breaks the chain, and removing the newest rows leaves it short of
its latest signed checkpoint; ``manage.py verify_audit`` reports both (aiplatform/audit.py).
On PostgreSQL a trigger also refuses UPDATE, DELETE and TRUNCATE outright. Actor and tenant are kept as plain ids plus a label, so deleting a user or
tenant never has to touch (and cannot be blocked by) the trail.
"""

from __future__ import annotations

from django.db import models


class AuditEvent(models.Model):
    seq = models.PositiveBigIntegerField(unique=True, editable=False)
    occurred_at = models.DateTimeField(db_index=True, editable=False)
    actor = models.ForeignKey(
        "aiplatform.User", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    actor_label = models.CharField(max_length=254, help_text="E-mail, 'system', or 'policy', as it was then.")
    tenant = models.ForeignKey(
        "aiplatform.Tenant", on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    action = models.CharField(max_length=100, db_index=True, help_text="noun.verb, e.g. subscription.approve")
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"]),
            models.Index(fields=["target_type", "target_id"]),
            # "What happened to request X": support look-ups, and re-delivered gateway reports skip what they hold.
            models.Index(fields=["request_id"], name="auditevent_request_id", condition=~models.Q(request_id="")),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} by {self.actor_label}"
