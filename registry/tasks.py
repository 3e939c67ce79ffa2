"""Background jobs of the registry: thin wrappers around ``registry.sync``."""

from __future__ import annotations

import structlog
from celery import shared_task

from registry.models import Provider
from registry.sync import CatalogueUnavailable, sync_provider_catalogue, syncable_providers

log = structlog.get_logger("switchboard.registry.tasks")


@shared_task(name="registry.sync_catalogues")
def sync_catalogues(provider_ids: list[int] | None = None) -> dict[str, dict]:
    """Sync the catalogues of the given providers (default: every syncable one). Safe to retry.

    A provider whose listing fails is reported and skipped; the others still sync.
    """
    providers = syncable_providers()
    if provider_ids is not None:
        providers = Provider.objects.filter(pk__in=provider_ids).order_by("name")
    report: dict[str, dict] = {}
    for provider in providers:
        try:
            result = sync_provider_catalogue(actor=None, provider=provider)
        except CatalogueUnavailable as exc:
            report[provider.name] = {"error": str(exc)}
            continue
        report[provider.name] = {"listed": result.listed, "new": result.new, "vanished": result.vanished}
    log.info("catalogue_sync", providers=len(report))
    return report
