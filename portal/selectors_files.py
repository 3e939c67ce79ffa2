"""Reads of uploaded files, always within one tenant: another tenant's file is never found."""

from __future__ import annotations

from django.utils import timezone

from portal.models import UploadedFile


def live_files(tenant_id: int):
    """The tenant's files that have not expired."""
    return UploadedFile.objects.filter(tenant_id=tenant_id, expires_at__gt=timezone.now())


def file_of(tenant_id: int, file_id: str) -> UploadedFile | None:
    return live_files(tenant_id).filter(pk=file_id).first()


def files_page(tenant_id: int, *, purpose: str | None, after: str | None, limit: int,
               newest_first: bool) -> tuple[list[UploadedFile], bool]:
    """One page of the tenant's files (``limit`` of them, after the file ``after``), and whether more follow."""
    rows = live_files(tenant_id)
    if purpose:
        rows = rows.filter(purpose=purpose)
    order = ("-created_at", "-pk") if newest_first else ("created_at", "pk")
    rows = rows.order_by(*order)
    if after:
        anchor = live_files(tenant_id).filter(pk=after).values_list("created_at", flat=True).first()
        if anchor is not None:
            rows = rows.filter(created_at__lt=anchor) if newest_first else rows.filter(created_at__gt=anchor)
    page = list(rows[: limit + 1])
    return page[:limit], len(page) > limit
