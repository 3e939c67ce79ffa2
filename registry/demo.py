"""The demo models of a fresh install: a local provider that needs no key, and two aliases with full cards."""

from __future__ import annotations

from django.db import transaction

from guardrails.baseline import BASELINE
from registry import services
from registry.models import AliasKind, AliasStatus, Endpoint, ModelAlias, Policy, Provider, ProviderKind
from registry.services_policies import create_policy

DEMO_PROVIDER = "demo"
DEMO_CHAT = "demo-chat"
DEMO_EMBED = "demo-embed"

_CHAT_CARD = {
    "summary": "A small local model for trying Switchboard: it answers deterministically and streams its reply "
               "token by token. It needs no key and sends nothing outside this server.",
    "use_cases": ["demo", "testing", "chat"],
    "limitations": "It does not understand the prompt: the answer is derived from the text, not reasoned about.",
    "failure_modes": "Confidently irrelevant answers to any real question.",
    "license": "Part of Switchboard; no separate licence.",
    "license_url": "",
    "license_restrictions": "For demonstrations and tests only.",
    "data_residency": "This server (no data leaves it).",
    "data_retention": "Nothing is retained by the model; the platform's own usage log applies.",
    "evaluations": [{"name": "echo-consistency", "metric": "exact match", "value": 1.0, "date": "2025-01-01"}],
}
_EMBED_CARD = {
    **_CHAT_CARD,
    "summary": "Deterministic local embeddings (hash-based) for trying the embeddings API with no key.",
    "use_cases": ["demo", "testing", "embeddings"],
    "limitations": "Vectors carry no meaning: similar texts are not close.",
    "failure_modes": "Any semantic search over these vectors is random.",
    "evaluations": [],
}


@transaction.atomic
def seed_demo_models(*, owner=None, stdout=None) -> ModelAlias:
    """Create (or leave as they are) the ``demo`` provider and the ``demo-chat``/``demo-embed`` aliases, and
    make ``owner`` one of their owners (the approver of requests for them)."""
    # A short pause between streamed pieces, so the playground shows the answer arriving as a real model's does.
    provider = Provider.objects.filter(name=DEMO_PROVIDER).first() or services.create_provider(
        actor=None, name=DEMO_PROVIDER, kind=ProviderKind.DEMO, config={"token_delay_ms": 25}
    )
    chat = _alias(provider, DEMO_CHAT, AliasKind.CHAT, "demo-chat-1",
                  ["chat", "streaming", "json_output"], _CHAT_CARD)
    embed = _alias(provider, DEMO_EMBED, AliasKind.EMBEDDINGS, "demo-embed-1", ["embeddings"], _EMBED_CARD)
    if owner is not None:
        for alias in (chat, embed):
            owners = list(alias.owners.all())
            if owner not in owners:  # added, never replacing the owners an admin chose
                services.update_alias(actor=None, alias=alias, owners=[*owners, owner])
    if not Policy.objects.filter(name=BASELINE["name"]).exists():
        # The recommended guardrail policy, disabled so the demo answers as before: an admin reads it, tries it
        # on the dry-run page and enables or narrows it at /models/manage/policies/.
        create_policy(actor=None, name=BASELINE["name"], description=BASELINE["description"], enabled=False,
                      document={k: v for k, v in BASELINE.items() if k not in ("name", "description")})
    if stdout is not None:
        stdout.write(f"Demo models: {DEMO_CHAT}, {DEMO_EMBED} (provider {DEMO_PROVIDER}); "
                     "guardrail policy baseline (disabled).")
    return chat


def _alias(provider: Provider, name: str, kind: str, upstream: str, capabilities: list[str], card: dict) -> ModelAlias:
    endpoint = Endpoint.objects.filter(provider=provider, upstream_model=upstream, region="").first()
    if endpoint is None:
        endpoint = services.create_endpoint(actor=None, provider=provider, upstream_model=upstream,
                                            capabilities=capabilities, context_window=8192)
    alias = ModelAlias.objects.filter(name=name).first()
    if alias is not None:
        return alias  # an admin may have changed it since; the seed never overwrites
    alias = services.create_alias(actor=None, name=name, kind=kind, status=AliasStatus.APPROVED)
    services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(endpoint=endpoint)])
    services.update_card(actor=None, alias=alias, note="Demo seed", **card)
    return alias
