"""Vendor catalogue sync: list what a provider offers and record it as onboarding candidates.

``sync_provider_catalogue`` asks the provider for its model list (``GET {base_url}/models``
for OpenAI and OpenAI-compatible servers, ``GET /v1/models`` for Anthropic, Bedrock's
``list_foundation_models`` through boto3) and updates ``UpstreamModel`` rows: new listings
appear as candidates, models that disappeared are marked vanished. It never creates an
endpoint or approves an alias — that stays a person's decision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import User
from aiplatform.permissions import require
from registry.models import Provider, ProviderKind, UpstreamModel
from registry.secrets import SecretUnavailable, resolve_secret

log = structlog.get_logger("switchboard.registry.sync")

OPENAI_URL = "https://api.openai.com/v1"
ANTHROPIC_URL = "https://api.anthropic.com/v1"
LIST_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
DEMO_MODELS = ("demo-chat-1", "demo-embed-1")


class CatalogueUnavailable(Exception):
    """The provider's catalogue could not be listed. The message never contains a secret."""


class SyncNotSupported(CatalogueUnavailable):
    """This kind of provider has no catalogue we can list."""


@dataclass(frozen=True)
class Listing:
    model_id: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SyncResult:
    provider: str
    listed: int
    new: list[str]
    vanished: list[str]


def make_bedrock_client(region: str):
    """The boto3 Bedrock control-plane client (tests stub it with botocore's Stubber)."""
    import boto3

    return boto3.client("bedrock", region_name=region)


def list_upstream_models(provider: Provider) -> list[Listing]:
    """What ``provider`` offers now. Raises ``CatalogueUnavailable`` (or ``SyncNotSupported``)."""
    kind = provider.kind
    if kind in (ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE):
        return _list_openai(provider)
    if kind == ProviderKind.ANTHROPIC:
        return _list_anthropic(provider)
    if kind == ProviderKind.BEDROCK:
        return _list_bedrock(provider)
    if kind == ProviderKind.DEMO:
        return [Listing(model_id) for model_id in DEMO_MODELS]
    raise SyncNotSupported(f"Listing the catalogue of a {provider.get_kind_display()} provider is not supported.")


def _secret(provider: Provider) -> str:
    """The provider's API key, fit to travel in an HTTP header (printable ASCII), else ``CatalogueUnavailable``."""
    try:
        secret = resolve_secret(provider.api_key)
    except SecretUnavailable as exc:
        raise CatalogueUnavailable(f"The credential of {provider.name} is unavailable: {exc}") from None
    # httpx encodes header values as ASCII; anything else was a UnicodeEncodeError, a 500. Never echo the key.
    if not (secret.isascii() and secret.isprintable()):
        raise CatalogueUnavailable(f"The credential of {provider.name} contains characters an HTTP header cannot "
                                   "carry (only printable ASCII); store the API key again.")
    return secret


def _get_json(url: str, headers: dict[str, str], params: dict | None = None) -> Any:
    try:
        with httpx.Client(timeout=LIST_TIMEOUT) as client:
            response = client.get(url, headers=headers, params=params)
    except httpx.HTTPError as exc:
        raise CatalogueUnavailable(f"GET {url} failed: {type(exc).__name__}") from None
    if response.status_code != 200:
        raise CatalogueUnavailable(f"GET {url} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise CatalogueUnavailable(f"GET {url} did not answer JSON") from None


def _list_openai(provider: Provider) -> list[Listing]:
    base = (provider.base_url or OPENAI_URL).rstrip("/")
    key = _secret(provider)
    body = _get_json(f"{base}/models", {"Authorization": f"Bearer {key}"} if key else {})
    items = body.get("data") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise CatalogueUnavailable(f"GET {base}/models did not answer an OpenAI model list")
    return [Listing(str(item["id"]), {k: item[k] for k in ("owned_by", "created") if k in item})
            for item in items if isinstance(item, dict) and item.get("id")]


def _list_anthropic(provider: Provider) -> list[Listing]:
    base = (provider.base_url or ANTHROPIC_URL).rstrip("/")
    headers = {"x-api-key": _secret(provider), "anthropic-version": "2023-06-01"}
    listings: list[Listing] = []
    params: dict[str, Any] = {"limit": 1000}
    while True:
        body = _get_json(f"{base}/models", headers, params)
        for item in body.get("data", []):
            listings.append(Listing(str(item["id"]), {"display_name": item.get("display_name", "")}))
        if not body.get("has_more") or not body.get("last_id"):
            return listings
        params = {"limit": 1000, "after_id": body["last_id"]}


def _list_bedrock(provider: Provider) -> list[Listing]:
    from botocore.exceptions import BotoCoreError, ClientError

    region = provider.region or settings.AWS_DEFAULT_REGION
    try:
        answer = make_bedrock_client(region).list_foundation_models()
    except (BotoCoreError, ClientError) as exc:
        raise CatalogueUnavailable(f"Bedrock list_foundation_models in {region} failed: {type(exc).__name__}") from None
    return [
        Listing(summary["modelId"], {
            "name": summary.get("modelName", ""),
            "vendor": summary.get("providerName", ""),
            "input_modalities": summary.get("inputModalities", []),
            "output_modalities": summary.get("outputModalities", []),
            "streaming": summary.get("responseStreamingSupported", False),
        })
        for summary in answer.get("modelSummaries", [])
    ]


def sync_provider_catalogue(*, actor: User | None, provider: Provider) -> SyncResult:
    """List ``provider``'s catalogue and record new and vanished models. Idempotent.

    The listing happens outside any transaction; recording it is one transaction that is
    audited (and bumps the registry version) only when something changed. A failed listing
    is remembered on the provider and raised as ``CatalogueUnavailable``.
    """
    if actor is not None:
        require(actor, "catalogue.sync", provider)
    try:
        listings = list_upstream_models(provider)
    except CatalogueUnavailable as exc:
        Provider.objects.filter(pk=provider.pk).update(last_synced_at=timezone.now(), last_sync_error=str(exc)[:500])
        log.warning("catalogue_sync_failed", provider=provider.name, error=str(exc))
        raise
    return _record(actor, provider, listings)


@transaction.atomic
def _record(actor: User | None, provider: Provider, listings: list[Listing]) -> SyncResult:
    now = timezone.now()
    known = {m.model_id: m for m in UpstreamModel.objects.select_for_update().filter(provider=provider)}
    listed_ids = set()
    new: list[str] = []
    for listing in listings:
        listed_ids.add(listing.model_id)
        row = known.get(listing.model_id)
        if row is None:
            UpstreamModel.objects.create(provider=provider, model_id=listing.model_id, details=listing.details,
                                         first_seen_at=now, last_seen_at=now)
            new.append(listing.model_id)
            continue
        if row.vanished_at is not None:
            new.append(listing.model_id)  # it came back
        row.vanished_at, row.last_seen_at, row.details = None, now, listing.details
        row.save(update_fields=["vanished_at", "last_seen_at", "details"])
    vanished = sorted(model_id for model_id, row in known.items() if model_id not in listed_ids and row.vanished_at is None)
    UpstreamModel.objects.filter(provider=provider, model_id__in=vanished).update(vanished_at=now)
    Provider.objects.filter(pk=provider.pk).update(last_synced_at=now, last_sync_error="")
    if new or vanished:
        record_event(action="catalogue.sync", actor=actor, target=provider,
                     changes={"new": sorted(new), "vanished": vanished, "listed": len(listed_ids)})
        config_version.bump("registry")
    return SyncResult(provider=provider.name, listed=len(listed_ids), new=sorted(new), vanished=vanished)


def syncable_providers():
    """Active providers whose kind has a catalogue we can list."""
    kinds = [ProviderKind.OPENAI, ProviderKind.OPENAI_COMPATIBLE, ProviderKind.ANTHROPIC, ProviderKind.BEDROCK,
             ProviderKind.DEMO]
    return Provider.objects.filter(is_active=True, kind__in=kinds).order_by("name")


def dismiss_candidate(*, actor: User | None, upstream_model: UpstreamModel) -> None:
    """An admin decided not to onboard this listing; it leaves the candidate list."""
    if actor is not None:
        require(actor, "catalogue.sync", upstream_model)
    with transaction.atomic():
        _dismiss(actor, upstream_model)


def _dismiss(actor: User | None, upstream_model: UpstreamModel) -> None:
    upstream_model.dismissed = True
    upstream_model.save(update_fields=["dismissed"])
    record_event(action="catalogue.dismiss", actor=actor, target=upstream_model,
                 changes={"provider": upstream_model.provider.name, "model_id": upstream_model.model_id})
    config_version.bump("registry")
