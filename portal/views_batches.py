"""A team's batches, at /portal/teams/<slug>/batches/: progress that updates live (each running row polls its
own fragment), cost, the output and error files to download, and cancel. Every member reads the page;
developers and up cancel (as they manage the keys that made the batches)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aiplatform.models import Tenant
from aiplatform.permissions import can, get_for_user_or_404
from portal.models import Batch, UploadedFile
from portal.selectors_batches import team_batches
from portal.services.batches import cancel_batch
from portal.services.files import files_storage

POLL_SECONDS = 2


def _row_context(request: HttpRequest, batch: Batch) -> dict:
    return {"b": batch, "may_cancel": can(request.user, "key.manage", batch.tenant), "poll_seconds": POLL_SECONDS,
            "percent": round(100 * batch.done / batch.total) if batch.total else 0}


@login_required
def team_batches_page(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    rows = [_row_context(request, batch) for batch in team_batches(tenant.pk).select_related("tenant")]
    return render(request, "portal/batches.html", {"tenant": tenant, "rows": rows})


def _batch(request: HttpRequest, batch_id: str) -> Batch:
    return get_for_user_or_404(Batch.objects.select_related("tenant"), request.user, pk=batch_id)


@login_required
def batch_row(request: HttpRequest, batch_id: str) -> HttpResponse:
    """One row, for the page's live polling (it stops once the batch has ended)."""
    return render(request, "portal/_batch_row.html", _row_context(request, _batch(request, batch_id)))


@login_required
@require_POST
def batch_cancel(request: HttpRequest, batch_id: str) -> HttpResponse:
    batch = _batch(request, batch_id)
    if not can(request.user, "key.manage", batch.tenant):
        raise Http404
    if cancel_batch(batch, actor=request.user):
        messages.success(request, f"Batch {batch.pk} is being cancelled: lines in flight finish, the rest are not sent.")
    else:
        messages.info(request, f"Batch {batch.pk} had already ended ({batch.status}).")
    return redirect("portal:team_batches", batch.tenant.slug)


@login_required
def batch_file(request: HttpRequest, batch_id: str, which: str) -> FileResponse:
    """The batch's output or error file (JSONL), as the API's ``/v1/files/{id}/content`` gives it."""
    batch = _batch(request, batch_id)
    file_id = {"output": batch.output_file_id, "errors": batch.error_file_id}.get(which)
    row = UploadedFile.objects.filter(tenant_id=batch.tenant_id, pk=file_id).first() if file_id else None
    if row is None:
        raise Http404("No such file.")
    return FileResponse(files_storage().open(row.storage_name, "rb"), as_attachment=True, filename=row.filename,
                        content_type="application/jsonl")
