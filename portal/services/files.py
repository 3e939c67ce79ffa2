"""Writes of uploaded files: store the bytes and the row together, delete both, purge what expired."""

from __future__ import annotations

import secrets
from datetime import timedelta

import structlog
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.utils import timezone

from portal.models import UploadedFile

log = structlog.get_logger("switchboard.files")


def files_storage():
    """Where the bytes live: ``STORAGES["files"]`` (the local file system, or S3 when configured)."""
    return storages["files"]


def store_file(*, tenant_id: int, application_id: int, key_id: int, purpose: str, filename: str, content: File,
               size: int, keep_seconds: int) -> UploadedFile:
    """Save ``content`` and its row; if the row cannot be written the bytes are removed again (no orphan)."""
    file_id = "file-" + secrets.token_hex(12)
    storage = files_storage()
    name = storage.save(f"t{tenant_id}/{file_id}", content)
    try:
        return UploadedFile.objects.create(
            id=file_id, tenant_id=tenant_id, application_id=application_id, key_id=key_id, purpose=purpose,
            filename=filename, bytes=size, storage_name=name,
            expires_at=timezone.now() + timedelta(seconds=keep_seconds))
    except Exception:
        storage.delete(name)
        raise


def delete_file(*, tenant_id: int, file_id: str) -> bool:
    """Delete one of the tenant's files, row and bytes; False when it has no such (live) file."""
    with transaction.atomic():
        found = (UploadedFile.objects.select_for_update().filter(tenant_id=tenant_id, pk=file_id,
                                                                 expires_at__gt=timezone.now()).first())
        if found is None:
            return False
        found.delete()
    files_storage().delete(found.storage_name)
    return True


def purge_expired_files() -> int:
    """Delete every file past its ``expires_at`` (rows first, then bytes); the number deleted."""
    expired = list(UploadedFile.objects.filter(expires_at__lte=timezone.now()).values_list("pk", "storage_name"))
    storage = files_storage()
    for file_id, name in expired:
        UploadedFile.objects.filter(pk=file_id).delete()
        try:
            storage.delete(name)
        except OSError:
            log.warning("expired_file_bytes_not_deleted", file_id=file_id)
    return len(expired)
