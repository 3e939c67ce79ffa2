"""Reading the registry: the gateway's routing table and policies, the catalogue, cards, sync candidates."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from django.db.models import Prefetch, Q, QuerySet

from aiplatform.permissions import can
from registry.models import (
    AliasKind,
    AliasStatus,
    Capability,
    Endpoint,
    ModelAlias,
    ModelCard,
    Policy,
    PolicyVersion,
    Provider,
    Route,
    UpstreamModel,
)
from registry.models import RoutingRule as RuleRow  # the row; ``RoutingRule`` below is the gateway's snapshot of it
from registry.policy_document import spec_of
from registry.policy_spec import PolicySpec

# --- the routing table (the gateway's view) ---------------------------------------------------

@dataclass(frozen=True, slots=True)
class RouteTarget:
    """One route of an alias with everything needed to call its endpoint. The secret is a reference."""

    endpoint_id: int
    provider_name: str
    provider_kind: str
    base_url: str
    region: str  # the endpoint's region, else its provider's
    upstream_model: str
    api_key_ref: str  # resolve with registry.secrets.resolve_secret, never log
    provider_config: Mapping[str, Any]
    weight: int
    priority: int  # fallback order: all routes of the lowest priority first, by weight
    capabilities: frozenset[str]
    context_window: int | None
    connect_timeout: float
    first_byte_timeout: float
    total_timeout: float
    input_price_per_mtok: Decimal
    output_price_per_mtok: Decimal
    price_per_image: Decimal
    price_per_request: Decimal
    variant: str = ""  # the route's A/B label, "" when none
    shadow_sample: float = 0.0  # above 0: a shadow route (never serves callers; gets this share mirrored)
    max_in_flight: int | None = None  # the endpoint's concurrency cap across all gateway processes; None: none


@dataclass(frozen=True, slots=True)
class RoutingRule:
    """One routing rule of an alias (strategy ``rules``): conditions on the call, and the routes it then uses.

    All given conditions must match; within one set any value matches; an empty set matches anything.
    """

    tenants: frozenset[str]  # team slugs
    regions: frozenset[str]  # the team's region (aiplatform.roles.Region)
    environments: frozenset[str]  # the application's environment (dev, prod)
    classifications: frozenset[str]  # the application's data classification
    capabilities: frozenset[str]  # what the request needs: tools, vision, json_schema (any of them)
    min_prompt_tokens: int | None  # inclusive
    max_prompt_tokens: int | None  # inclusive
    endpoint_ids: tuple[int, ...]  # the routes to use, in order (only routes present in AliasRouting.routes)

    def matches(self, *, tenant: str, region: str, environment: str, classification: str, needs: frozenset[str],
                prompt_tokens: int) -> bool:
        """Whether a call with these facts falls under this rule (pure: no I/O)."""
        if self.tenants and tenant not in self.tenants:
            return False
        if self.regions and region not in self.regions:
            return False
        if self.environments and environment not in self.environments:
            return False
        if self.classifications and classification not in self.classifications:
            return False
        if self.capabilities and not self.capabilities & needs:
            return False
        if self.min_prompt_tokens is not None and prompt_tokens < self.min_prompt_tokens:
            return False
        return self.max_prompt_tokens is None or prompt_tokens <= self.max_prompt_tokens


@dataclass(frozen=True, slots=True)
class AliasRouting:
    """A callable-or-not alias as the gateway sees it: lifecycle facts, its routes, and how to choose among them.

    ``routes`` are in fallback order (priority, then weight descending), shadow routes last: they are
    there so their endpoints get targets; the gateway serves only routes with ``shadow_sample == 0``.
    """

    name: str
    kind: str  # chat | embeddings
    status: str
    approved_on: date | None
    deprecated_on: date | None
    sunset_on: date | None
    retired_on: date | None
    replacement: str | None  # the replacement alias's name
    routes: tuple[RouteTarget, ...] = field(default=())
    strategy: str = "weighted"  # weighted | priority | least-latency | least-cost | rules
    sticky: str = ""  # "" | application | user: whom the weighted draw keeps on one route
    rules: tuple[RoutingRule, ...] = ()  # first match wins (strategy rules)
    created_at: datetime | None = None  # when the alias was created (its "created" where it has no approval date)
    batch_discount_percent: int = 0  # a batch line's price is this much lower (the Batch API)
    # The shadow routes of ``routes`` (derived, so the gateway's check for "any to mirror?" is one attribute).
    shadows: tuple[RouteTarget, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "shadows", tuple(route for route in self.routes if route.shadow_sample))

    @property
    def capabilities(self) -> frozenset[str]:
        """What every serving route can do (so any of them can serve a request that needs it)."""
        serving = [route.capabilities for route in self.routes if not route.shadow_sample]
        if not serving:
            return frozenset()
        return frozenset.intersection(*serving)


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    return value


def _route_target(route: Route) -> RouteTarget:
    return _endpoint_target(route.endpoint, weight=route.weight, priority=route.priority, variant=route.variant,
                            shadow_sample=float(route.shadow_sample))


def endpoint_targets(endpoint_ids: Iterable[int]) -> dict[int, RouteTarget]:
    """Active endpoints as route targets of no alias (a team's dedicated endpoint), by id. One query."""
    endpoints = Endpoint.objects.filter(pk__in=list(endpoint_ids), is_active=True,
                                        provider__is_active=True).select_related("provider")
    return {e.pk: _endpoint_target(e, weight=100, priority=0, variant="dedicated", shadow_sample=0.0) for e in endpoints}


def _endpoint_target(endpoint: Endpoint, *, weight: int, priority: int, variant: str,
                     shadow_sample: float) -> RouteTarget:
    provider = endpoint.provider
    return RouteTarget(
        endpoint_id=endpoint.pk,
        provider_name=provider.name,
        provider_kind=provider.kind,
        base_url=provider.base_url,
        region=endpoint.region or provider.region,
        upstream_model=endpoint.upstream_model,
        api_key_ref=provider.api_key,
        provider_config=_frozen(provider.config or {}),
        weight=weight,
        priority=priority,
        capabilities=frozenset(endpoint.capabilities),
        context_window=endpoint.context_window,
        connect_timeout=endpoint.connect_timeout,
        first_byte_timeout=endpoint.first_byte_timeout,
        total_timeout=endpoint.total_timeout,
        input_price_per_mtok=endpoint.input_price_per_mtok,
        output_price_per_mtok=endpoint.output_price_per_mtok,
        price_per_image=endpoint.price_per_image,
        price_per_request=endpoint.price_per_request,
        variant=variant,
        shadow_sample=shadow_sample,
        max_in_flight=endpoint.max_in_flight,
    )


def _routing_rule(rule: RuleRow, endpoint_of_route: Mapping[int, int]) -> RoutingRule:
    """``endpoint_of_route``: route id → endpoint id of the routes in the snapshot; the rule's others are left out."""
    return RoutingRule(
        tenants=frozenset(rule.tenants), regions=frozenset(rule.regions), environments=frozenset(rule.environments),
        classifications=frozenset(rule.classifications), capabilities=frozenset(rule.capabilities),
        min_prompt_tokens=rule.min_prompt_tokens, max_prompt_tokens=rule.max_prompt_tokens,
        endpoint_ids=tuple(endpoint_of_route[t.route_id] for t in rule.targets.all() if t.route_id in endpoint_of_route),
    )


def alias_routing(alias: ModelAlias) -> AliasRouting:
    """The snapshot of one alias (its routes and rules prefetched or not)."""
    routes = sorted(
        (r for r in alias.routes.all() if r.endpoint.is_active and r.endpoint.provider.is_active),
        key=lambda r: (r.is_shadow, r.priority, -r.weight, r.pk),
    )
    endpoint_of_route = {r.pk: r.endpoint_id for r in routes}
    return AliasRouting(
        name=alias.name, kind=alias.kind, status=alias.status, approved_on=alias.approved_on,
        deprecated_on=alias.deprecated_on, sunset_on=alias.sunset_on, retired_on=alias.retired_on,
        replacement=alias.replacement.name if alias.replacement_id else None,
        routes=tuple(_route_target(r) for r in routes),
        strategy=alias.strategy, sticky=alias.sticky,
        rules=tuple(_routing_rule(rule, endpoint_of_route) for rule in alias.routing_rules.all()),
        created_at=alias.created_at, batch_discount_percent=alias.batch_discount_percent,
    )


def routing_table() -> MappingProxyType[str, AliasRouting]:
    """Every non-draft alias by name, as immutable plain data (no model instances).

    Routes through an inactive endpoint or provider are left out. The gateway caches the
    result per process and calls this again when ``config_version.current("registry")`` moves.
    Four queries however many aliases: aliases, routes, rules, the rules' targets.
    """
    aliases = (
        ModelAlias.objects.exclude(status=AliasStatus.DRAFT)
        .select_related("replacement")
        .prefetch_related(Prefetch("routes", queryset=Route.objects.select_related("endpoint__provider")),
                          "routing_rules__targets")
    )
    return MappingProxyType({alias.name: alias_routing(alias) for alias in aliases})


def policy_table() -> tuple[PolicySpec, ...]:
    """Every enabled guardrail policy at its current version, by name, as plain data. One query.

    The gateway reads it with the routing table, whenever ``config_version.current("registry")`` moves.
    """
    rows = Policy.objects.filter(enabled=True).order_by("name").values_list("name", "version", "document",
                                                                           "description")
    return tuple(spec_of(name, version, document, description=description)
                 for name, version, document, description in rows)


# --- the catalogue (people's view) ---------------------------------------------------------------

CATALOGUE_STATUSES = (AliasStatus.EVALUATING, AliasStatus.APPROVED, AliasStatus.DEPRECATED)


@dataclass(frozen=True)
class CatalogueEntry:
    """One alias as the catalogue lists it."""

    alias: ModelAlias
    card: ModelCard | None
    providers: tuple[str, ...]
    capabilities: frozenset[str]
    use_cases: tuple[str, ...]
    context_window: int | None
    input_price_per_mtok: Decimal | None  # of the primary route
    output_price_per_mtok: Decimal | None

    @property
    def name(self) -> str:
        return self.alias.name

    @property
    def capability_list(self) -> list[str]:
        """The capabilities in their usual order, for display."""
        return [c for c in Capability.values if c in self.capabilities]


@dataclass(frozen=True)
class CatalogueFilters:
    q: str = ""
    capabilities: tuple[str, ...] = ()
    use_case: str = ""
    provider: str = ""
    status: str = ""
    max_input_price: Decimal | None = None

    @classmethod
    def from_params(cls, params) -> CatalogueFilters:
        """From query parameters (``q``, ``capability`` repeated, ``use_case``, ``provider``, ``status``,
        ``max_input_price``); a malformed price is ignored."""
        try:
            max_price = Decimal(params["max_input_price"]) if params.get("max_input_price") else None
        except InvalidOperation:
            max_price = None
        return cls(
            q=params.get("q", ""), capabilities=tuple(params.getlist("capability")),
            use_case=params.get("use_case", ""), provider=params.get("provider", ""),
            status=params.get("status", ""), max_input_price=max_price,
        )


def visible_aliases(user) -> QuerySet[ModelAlias]:
    """Drafts only for those who manage aliases and the alias's owners."""
    aliases = ModelAlias.objects.all()
    if can(user, "alias.manage"):
        return aliases
    return aliases.filter(~Q(status=AliasStatus.DRAFT) | Q(owners=user)).distinct()


def catalogue_entry(alias: ModelAlias) -> CatalogueEntry:
    # Shadow routes never answer callers, so what the catalogue promises comes from the serving ones.
    routes = sorted((r for r in alias.routes.all() if not r.is_shadow), key=lambda r: (r.priority, -r.weight, r.pk))
    card = getattr(alias, "card", None)
    primary = routes[0].endpoint if routes else None
    caps = frozenset.intersection(*(frozenset(r.endpoint.capabilities) for r in routes)) if routes else frozenset()
    return CatalogueEntry(
        alias=alias,
        card=card,
        providers=tuple(dict.fromkeys(r.endpoint.provider.name for r in routes)),
        capabilities=caps,
        use_cases=tuple(card.use_cases) if card else (),
        context_window=primary.context_window if primary else None,
        input_price_per_mtok=primary.input_price_per_mtok if primary else None,
        output_price_per_mtok=primary.output_price_per_mtok if primary else None,
    )


def catalogue(user, filters: CatalogueFilters | None = None) -> list[CatalogueEntry]:
    """Aliases the user may browse, matching ``filters``.

    Without a status filter it lists evaluating, approved and deprecated aliases (retired
    and draft ones on request). The catalogue is small, so capability, use-case and price
    filters run in Python, the same on PostgreSQL and SQLite.
    """
    filters = filters or CatalogueFilters()
    aliases = visible_aliases(user).select_related("card", "replacement").prefetch_related(
        Prefetch("routes", queryset=Route.objects.select_related("endpoint__provider"))
    )
    aliases = aliases.exclude(kind=AliasKind.PROMPT)  # prompt APIs have their own pages
    if filters.status:
        aliases = aliases.filter(status=filters.status)
    else:
        aliases = aliases.filter(status__in=CATALOGUE_STATUSES)
    if filters.provider:
        aliases = aliases.filter(routes__endpoint__provider__name=filters.provider).distinct()
    entries = [catalogue_entry(alias) for alias in aliases.order_by("name")]
    if filters.q.strip():
        entries = [e for e in entries if _matches(e, filters.q.strip().lower())]
    if filters.capabilities:
        wanted = set(filters.capabilities)
        entries = [e for e in entries if wanted <= e.capabilities]
    if filters.use_case:
        entries = [e for e in entries if filters.use_case in e.use_cases]
    if filters.max_input_price is not None:
        entries = [e for e in entries
                   if e.input_price_per_mtok is not None and e.input_price_per_mtok <= filters.max_input_price]
    return entries


def _matches(entry: CatalogueEntry, q: str) -> bool:
    haystack = [entry.name, *entry.use_cases, *entry.providers,
                *(r.endpoint.upstream_model for r in entry.alias.routes.all())]
    if entry.card is not None:
        haystack.append(entry.card.summary)
    return any(q in text.lower() for text in haystack)


def use_case_tags() -> list[str]:
    """Every use-case tag on a card, for the catalogue's filter."""
    tags: set[str] = set()
    for use_cases in ModelCard.objects.exclude(alias__status=AliasStatus.DRAFT).values_list("use_cases", flat=True):
        tags.update(use_cases or [])
    return sorted(tags)


def alias_for_user(user, name: str) -> ModelAlias | None:
    """One alias the user may see, with card and routes, or None."""
    return (
        visible_aliases(user).select_related("card", "replacement")
        .prefetch_related(Prefetch("routes", queryset=Route.objects.select_related("endpoint__provider")), "owners")
        .filter(name=name).first()
    )


def card_versions(alias: ModelAlias) -> QuerySet:
    card = getattr(alias, "card", None)
    return card.versions.select_related("created_by").order_by("-version") if card else ModelCard.objects.none()


def providers() -> QuerySet[Provider]:
    return Provider.objects.order_by("name")


def endpoints() -> QuerySet[Endpoint]:
    return Endpoint.objects.select_related("provider").order_by("provider__name", "upstream_model", "region")


def routing_rules(alias: ModelAlias) -> QuerySet[RuleRow]:
    """The alias's routing rules, first first, with the routes they name (for its page)."""
    return RuleRow.objects.filter(alias=alias).prefetch_related("targets__route__endpoint__provider")


def aliases_owned_by(user) -> QuerySet[ModelAlias]:
    return ModelAlias.objects.filter(owners=user).order_by("name")


def policies() -> QuerySet[Policy]:
    """Every policy, enabled or not, by name (for the pages and the API)."""
    return Policy.objects.select_related("updated_by").order_by("name")


def policy_history(policy: Policy) -> QuerySet[PolicyVersion]:
    """The policy's versions, newest first."""
    return PolicyVersion.objects.filter(policy=policy).select_related("created_by").order_by("-version")


# --- onboarding candidates ---------------------------------------------------------------------

@dataclass(frozen=True)
class Candidates:
    new: list[UpstreamModel]  # listed upstream, no endpoint yet, not dismissed
    vanished: list[Endpoint]  # an endpoint whose upstream model the last sync did not list


def onboarding_candidates(provider_names: Iterable[str] | None = None) -> Candidates:
    """What the last syncs found that an admin should look at. Listing only; nothing is approved."""
    listed = UpstreamModel.objects.select_related("provider")
    endpoint_qs = Endpoint.objects.select_related("provider")
    if provider_names is not None:
        listed = listed.filter(provider__name__in=list(provider_names))
        endpoint_qs = endpoint_qs.filter(provider__name__in=list(provider_names))
    onboarded = set(endpoint_qs.values_list("provider_id", "upstream_model"))
    new = [m for m in listed.filter(vanished_at__isnull=True, dismissed=False)
           if (m.provider_id, m.model_id) not in onboarded]
    gone = set(listed.filter(vanished_at__isnull=False).values_list("provider_id", "model_id"))
    vanished = [e for e in endpoint_qs if (e.provider_id, e.upstream_model) in gone]
    return Candidates(new=new, vanished=vanished)
