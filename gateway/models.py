"""What the gateway itself keeps: the Responses API's stored responses."""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned


class StoredResponse(TenantOwned):
    """A ``/v1/responses`` answer kept for ``GET /v1/responses/{id}`` and ``previous_response_id``.

    ``body`` is the response object exactly as the caller received it (after the output guard); ``input`` the
    items the request sent; ``history`` the conversation before it (the earlier responses' inputs and outputs),
    so continuing needs one row, not a walk along the chain. Rows past ``expires_at`` are never served and are
    deleted by ``gateway.purge_expired_responses``.
    """

    id = models.CharField(primary_key=True, max_length=64)
    key_id = models.BigIntegerField(help_text="The API key that created it.")
    alias = models.CharField(max_length=100)
    previous_response_id = models.CharField(max_length=64, blank=True)
    body = models.JSONField()
    input = models.JSONField()
    history = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return self.id
