"""Files applications upload through the gateway (``/v1/files``): the Batch API's input (and, later, output)."""

from __future__ import annotations

from django.db import models

from aiplatform.models import TenantOwned


class FilePurpose(models.TextChoices):
    BATCH = "batch", "Batch input"
    BATCH_OUTPUT = "batch_output", "Batch output"


class UploadedFile(TenantOwned):
    """One file of a tenant, its bytes in the ``files`` storage under ``storage_name``.

    Only the uploading tenant's keys see it (``portal.selectors_files`` filters every read by tenant). Past
    ``expires_at`` it is never served, and ``portal.purge_expired_files`` deletes the row and the bytes.
    """

    id = models.CharField(primary_key=True, max_length=40)
    application_id = models.BigIntegerField(help_text="The application whose key uploaded it.")
    key_id = models.BigIntegerField(help_text="The API key that uploaded it.")
    purpose = models.CharField(max_length=16, choices=FilePurpose.choices)
    filename = models.CharField(max_length=255)
    bytes = models.BigIntegerField()
    storage_name = models.CharField(max_length=300, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "created_at"])]

    def __str__(self) -> str:
        return f"{self.id} ({self.filename})"
