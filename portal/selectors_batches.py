"""Reads of batches, always within one tenant: another tenant's batch is never found."""

from __future__ import annotations

from django.db.models import QuerySet

from portal.models import ApiKey, Batch, BatchLine, Subscription, SubscriptionStatus
from registry.models import ModelAlias


def batch_of(tenant_id: int, batch_id: str) -> Batch | None:
    return Batch.objects.filter(tenant_id=tenant_id, pk=batch_id).first()


def batches_page(tenant_id: int, *, after: str | None, limit: int) -> tuple[list[Batch], bool]:
    """One page of the tenant's batches, newest first, after the batch ``after``; and whether more follow."""
    rows = Batch.objects.filter(tenant_id=tenant_id).order_by("-created_at", "-pk")
    if after:
        anchor = Batch.objects.filter(tenant_id=tenant_id, pk=after).values_list("created_at", flat=True).first()
        if anchor is not None:
            rows = rows.filter(created_at__lt=anchor)
    page = list(rows[: limit + 1])
    return page[:limit], len(page) > limit


def team_batches(tenant_id: int, *, limit: int = 50) -> QuerySet[Batch]:
    """The portal's list: the team's latest batches."""
    return Batch.objects.filter(tenant_id=tenant_id).order_by("-created_at", "-pk")[:limit]


def callable_aliases(key_id: int) -> dict[str, str]:
    """The aliases key ``key_id`` may call, by name → kind (chat | embeddings), as the gateway's key table says:
    its application's approved subscriptions to callable aliases, narrowed to the key's own model list."""
    key = ApiKey.objects.filter(pk=key_id).values("application_id", "allowed_aliases").first()
    if key is None:
        return {}
    names = set(Subscription.objects.filter(application_id=key["application_id"], status=SubscriptionStatus.APPROVED)
                .values_list("alias__name", flat=True))
    if key["allowed_aliases"]:
        names &= set(key["allowed_aliases"])
    return {alias.name: alias.kind for alias in ModelAlias.objects.filter(name__in=names) if alias.is_callable}


def lines_to_write(batch: Batch) -> QuerySet[BatchLine]:
    """Every line of the batch in input order, for its output and error files."""
    return BatchLine.objects.filter(batch=batch).order_by("number")
