"""Uploaded files' writes and reads: bytes and row together, per tenant, and the purge of what expired."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from portal.models import UploadedFile
from portal.selectors_files import file_of, files_page
from portal.services.files import delete_file, files_storage, purge_expired_files, store_file

pytestmark = pytest.mark.django_db


def _store(tenant, content=b'{"a": 1}\n', keep=3600):
    return store_file(tenant_id=tenant.pk, application_id=1, key_id=1, purpose="batch", filename="in.jsonl",
                      content=ContentFile(content), size=len(content), keep_seconds=keep)


def test_a_file_is_its_row_and_its_bytes(tenant_a):
    row = _store(tenant_a)
    with files_storage().open(row.storage_name, "rb") as stored:
        assert stored.read() == b'{"a": 1}\n'
    assert row.storage_name.startswith(f"t{tenant_a.pk}/")


def test_another_tenant_finds_nothing_and_deletes_nothing(tenant_a, tenant_b):
    row = _store(tenant_a)
    assert file_of(tenant_b.pk, row.id) is None
    assert files_page(tenant_b.pk, purpose=None, after=None, limit=10, newest_first=True) == ([], False)
    assert delete_file(tenant_id=tenant_b.pk, file_id=row.id) is False
    assert files_storage().exists(row.storage_name) and file_of(tenant_a.pk, row.id) == row


def test_an_expired_file_is_not_served_and_the_purge_removes_row_and_bytes(tenant_a):
    expired, live = _store(tenant_a), _store(tenant_a)
    UploadedFile.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert file_of(tenant_a.pk, expired.id) is None
    assert purge_expired_files() == 1
    assert not UploadedFile.objects.filter(pk=expired.pk).exists()
    assert not files_storage().exists(expired.storage_name)
    assert files_storage().exists(live.storage_name)


def test_when_the_row_cannot_be_written_no_bytes_are_left(tenant_a):
    from django.db import DatabaseError, transaction

    before = set(_names(tenant_a))
    with pytest.raises(DatabaseError), transaction.atomic():  # PostgreSQL refuses a name over 255 characters
        store_file(tenant_id=tenant_a.pk, application_id=1, key_id=1, purpose="batch", filename="x" * 300,
                   content=ContentFile(b"{}\n"), size=3, keep_seconds=3600)
    assert set(_names(tenant_a)) == before


def _names(tenant) -> list[str]:
    storage = files_storage()
    folder = f"t{tenant.pk}"
    return storage.listdir(folder)[1] if storage.exists(folder) else []
