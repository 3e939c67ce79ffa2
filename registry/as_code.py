"""Registry as code: a YAML file that describes providers, endpoints and models.

``apply_registry`` makes the registry match a file (in one transaction, through the
services, so every change is audited and bumps the config version) and returns the diff;
``export_registry`` writes the registry back in the same format. Applying an export
changes nothing. The format::

    providers:
      - name: local-openai
        kind: openai-compatible
        base_url: http://127.0.0.1:18080/v1
        api_key: env:LOCAL_OPENAI_KEY          # a secret reference, never the secret
        region: ...                            # optional; also config: {...}, active: false
    models:
      - alias: fast-chat
        kind: chat                             # chat | embeddings
        status: approved                       # draft | evaluating | approved | deprecated | retired
        deprecated_on: 2025-06-01              # required for deprecated; sunset_on, retired_on, approved_on
        replacement: other-alias
        owners: [owner@example.com]            # absent: owners are left as they are
        strategy: rules                        # weighted (default) | priority | least-latency | least-cost | rules
        sticky: user                           # optional: application | user (A/B: one route per caller)
        batch_discount_percent: 50             # optional: lines of a batch (the Batch API) cost this much less
        routes:
          - {provider: local-openai, upstream_model: gpt-4o-mini, weight: 100, priority: 0, variant: a}
          - {provider: local-openai, upstream_model: next-model, shadow: 0.1}   # a shadow: mirrored share only
        rules:                                 # only with strategy rules; the first that matches wins
          - when: {regions: [eu], environments: [prod], capabilities: [vision], min_prompt_tokens: 30000}
            use: [{provider: local-openai, upstream_model: gpt-4o-mini}]        # routes of this model, in order
        pricing: {input_per_mtok: 0.15, output_per_mtok: 0.60, per_image: 0, per_request: 0}
        capabilities: [chat, streaming]        # default: the alias's kind
        context_window: 128000
        timeouts: {connect: 5, first_byte: 60, total: 600}
        card: {summary: "...", use_cases: [summarization], license: "..."}   # absent: card left as is
    endpoints:                                 # optional: endpoints no model routes to yet
      - {provider: local-openai, upstream_model: other-model, pricing: {...}}
    policies:                                  # optional: guardrail policies (registry.as_code_policies)
      - {name: pii-basic, applies_to: {aliases: [fast-chat]}, input: [{detector: email, action: mask}]}
    prompts:                                   # optional: prompt APIs and their versions (registry.as_code_prompts)
      - {slug: summarise, title: ..., team: alpha, versions: [{model: fast-chat, template: "..."}], labels: {...}}

A rule's ``when`` takes ``tenants`` (team slugs), ``regions``, ``environments``, ``classifications``,
``capabilities`` (tools, vision, json_schema), ``min_prompt_tokens`` and ``max_prompt_tokens``; all given
must match, within a list any value does. ``rules`` under another strategy is refused, not ignored.

``pricing``, ``capabilities``, ``context_window``, ``max_in_flight``, ``timeouts`` and ``active`` describe the
endpoint a route goes to; given on a model they apply to all its routes, given on a route
they apply to that route only. Two places that describe one endpoint differently are an error;
the export writes an endpoint's attributes on every route to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from registry import selectors, services
from registry.as_code_policies import PolicyEntry, apply_policies, check_policy_names, export_policies, read_policies
from registry.as_code_prompts import PromptEntry, apply_prompts, export_prompts, read_prompts
from registry.models import (
    AliasKind,
    AliasStatus,
    Capability,
    Endpoint,
    ModelAlias,
    ModelCard,
    Provider,
    ProviderKind,
    Route,
    RoutingRule,
    RoutingStrategy,
    StickyAssignment,
)
from registry.models.aliases import MODEL_KINDS, VARIANT
from registry.models.cards import CARD_FIELDS
from registry.models.http_urls import validate_http_url
from registry.models.rules import CONDITION_KEYS, CONDITION_VALUES, canonical_values
from registry.secrets import is_reference

# The endpoint attributes a file may give, flattened: (group or None, key in the file) → model field.
ENDPOINT_ATTRS: dict[str, tuple[str | None, str]] = {
    "input_price_per_mtok": ("pricing", "input_per_mtok"),
    "output_price_per_mtok": ("pricing", "output_per_mtok"),
    "price_per_image": ("pricing", "per_image"),
    "price_per_request": ("pricing", "per_request"),
    "connect_timeout": ("timeouts", "connect"),
    "first_byte_timeout": ("timeouts", "first_byte"),
    "total_timeout": ("timeouts", "total"),
    "capabilities": (None, "capabilities"),
    "context_window": (None, "context_window"),
    "max_in_flight": (None, "max_in_flight"),
    "is_active": (None, "active"),
}
_ENDPOINT_DEFAULTS: dict[str, Any] = {
    "input_price_per_mtok": Decimal(0), "output_price_per_mtok": Decimal(0), "price_per_image": Decimal(0),
    "price_per_request": Decimal(0), "connect_timeout": 5.0, "first_byte_timeout": 60.0, "total_timeout": 600.0,
    "capabilities": [], "context_window": None, "max_in_flight": None, "is_active": True,
}
_GROUP_KEYS = {group: {key for g, key in ENDPOINT_ATTRS.values() if g == group} for group in ("pricing", "timeouts")}
_PLAIN_ENDPOINT_KEYS = {key for g, key in ENDPOINT_ATTRS.values() if g is None}

PROVIDER_KEYS = {"name", "kind", "base_url", "region", "api_key", "config", "active"}
MODEL_KEYS = {"alias", "kind", "status", "approved_on", "deprecated_on", "sunset_on", "retired_on", "replacement",
              "owners", "strategy", "sticky", "batch_discount_percent", "routes", "rules", "card", "pricing", "timeouts"} | _PLAIN_ENDPOINT_KEYS
ROUTE_KEYS = {"provider", "upstream_model", "region", "weight", "priority", "variant", "shadow", "pricing",
              "timeouts"} | _PLAIN_ENDPOINT_KEYS
RULE_KEYS = {"when", "use"}
USE_KEYS = {"provider", "upstream_model", "region"}  # a route of the model, named by its endpoint
ENDPOINT_KEYS = {"provider", "upstream_model", "region", "pricing", "timeouts"} | _PLAIN_ENDPOINT_KEYS
DATE_KEYS = ("approved_on", "deprecated_on", "sunset_on", "retired_on")

EndpointKey = tuple[str, str, str]  # provider name, upstream model, region


VARIANT_MAX_LENGTH = 32  # Route.variant


def _is_variant(value: str) -> bool:
    try:
        VARIANT(value)
    except ValidationError:
        return False
    return len(value) <= VARIANT_MAX_LENGTH


def _is_http_url(value: str) -> bool:
    """Empty, or what every URL field takes (``registry.models.http_urls``)."""
    try:
        validate_http_url(value)
    except ValidationError:
        return False
    return True


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (``models[0].routes[1].provider``) and what."""

    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.path}: {self.message}"


class RegistryFileInvalid(Exception):
    """The file was refused; nothing was applied. ``problems`` lists everything found."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class Change:
    action: str  # created | changed | unchanged | removed
    kind: str  # provider | endpoint | model
    name: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        detail = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{self.action:<9} {self.kind} {self.name}{detail}"


@dataclass
class ApplyResult:
    changes: list[Change]
    dry_run: bool

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> str:
        counts = ", ".join(f"{self.count(a)} {a}" for a in ("created", "changed", "requested", "unchanged", "removed"))
        return counts + (" (dry run: nothing was changed)" if self.dry_run else "")


# --- reading and checking a file -------------------------------------------------------------

@dataclass
class _ProviderSpec:
    name: str
    fields: dict[str, Any]


@dataclass
class _RouteSpec:
    endpoint: EndpointKey
    weight: int
    priority: int
    variant: str = ""
    shadow_sample: Decimal = Decimal(0)


@dataclass
class _RuleSpec:
    path: str
    conditions: dict[str, Any]  # the given ones, as RuleSpec takes them: tuples in canonical order, token bounds
    endpoints: list[EndpointKey]  # routes of its model, in order


@dataclass
class _ModelSpec:
    name: str
    path: str
    fields: dict[str, Any]  # kind, status, dates, strategy, sticky
    replacement: str | None
    owners: list[str] | None  # None: not managed
    routes: list[_RouteSpec]
    card: dict[str, Any] | None  # None: not managed
    rules: list[_RuleSpec] = field(default_factory=list)


@dataclass
class _Spec:
    providers: list[_ProviderSpec] = field(default_factory=list)
    endpoints: dict[EndpointKey, dict[str, Any]] = field(default_factory=dict)
    models: list[_ModelSpec] = field(default_factory=list)
    policies: list[PolicyEntry] | None = None  # None: the file has no policies: section
    prompts: list[PromptEntry] | None = None  # None: the file has no prompts: section


class _Reader:
    """Walks the parsed YAML, collecting every problem instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def problem(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def mapping(self, value: Any, path: str, allowed: set[str]) -> dict | None:
        if not isinstance(value, dict):
            self.problem(path, "must be a mapping")
            return None
        for key in value:
            if key not in allowed:
                self.problem(f"{path}.{key}", f"unknown key (known: {', '.join(sorted(allowed))})")
        return value

    def items(self, doc: dict, key: str) -> list:
        value = doc.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem(key, "must be a list")
            return []
        return value

    def text(self, obj: dict, key: str, path: str, *, required: bool = False, default: str = "") -> str:
        value = obj.get(key)
        if value is None or value == "":
            if required:
                self.problem(f"{path}.{key}", "is required")
            return default
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            self.problem(f"{path}.{key}", "must be text")
            return default
        return str(value)

    def choice(self, obj: dict, key: str, path: str, choices: list[str], default: str | None = None) -> str:
        value = self.text(obj, key, path, required=default is None, default=default or "")
        if value and value not in choices:
            self.problem(f"{path}.{key}", f"{value!r} is not one of {', '.join(choices)}")
        return value

    def number(self, value: Any, path: str, *, integer: bool = False, positive: bool = False) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            self.problem(path, "must be a number")
            return None
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            self.problem(path, "must be a number")
            return None
        if not number.is_finite():
            self.problem(path, "must be a number")
            return None
        if number < 0:
            self.problem(path, "cannot be negative")
            return None
        if positive and number == 0:
            self.problem(path, "must be more than zero")
            return None
        if integer:
            if number != number.to_integral_value():
                self.problem(path, "must be a whole number")
                return None
            return int(number)
        return number

    def share(self, value: Any, path: str) -> Decimal | None:
        """A fraction from 0 to 1, at most four decimals (as a route's shadow sample is stored)."""
        number = self.number(value, path)
        if number is None:
            return None
        if number > 1:
            self.problem(path, "must be a share from 0 to 1 (0.1 is a tenth)")
            return None
        if number != number.quantize(Decimal("0.0001")):
            self.problem(path, "takes at most four decimals")
            return None
        return number

    def conditions(self, value: Any, path: str) -> dict[str, Any] | None:
        """A rule's ``when``: the given conditions, lists in canonical order; None when it had a problem."""
        if value is None:
            return {}
        obj = self.mapping(value, path, set(CONDITION_KEYS))
        if obj is None:
            return None
        before = len(self.problems)
        conditions: dict[str, Any] = {}
        for name, allowed in CONDITION_VALUES.items():
            values = obj.get(name)
            if values is None:
                continue
            if not isinstance(values, list) or any(not isinstance(v, str) or not v for v in values):
                self.problem(f"{path}.{name}", "must be a list of names")
                continue
            unknown = [v for v in values if allowed is not None and v not in allowed]
            if unknown:
                self.problem(f"{path}.{name}", f"unknown {', '.join(unknown)} (known: {', '.join(allowed or ())})")
                continue
            if values:
                conditions[name] = canonical_values(name, values)
        for name in ("min_prompt_tokens", "max_prompt_tokens"):
            if obj.get(name) is not None:
                number = self.number(obj[name], f"{path}.{name}", integer=True)
                if number is not None:
                    conditions[name] = number
        low, high = conditions.get("min_prompt_tokens"), conditions.get("max_prompt_tokens")
        if low is not None and high is not None and high < low:
            self.problem(f"{path}.max_prompt_tokens", "cannot be below min_prompt_tokens")
        return conditions if len(self.problems) == before else None

    def day(self, obj: dict, key: str, path: str) -> date | None:
        value = obj.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(f"{path}.{key}", "must be a date (YYYY-MM-DD)")
            return None

    def endpoint_attrs(self, obj: dict, path: str) -> dict[str, Any]:
        """The endpoint attributes given in ``obj`` (only those given), flattened to model fields."""
        attrs: dict[str, Any] = {}
        for group in ("pricing", "timeouts"):
            if obj.get(group) is not None:
                self.mapping(obj[group], f"{path}.{group}", _GROUP_KEYS[group])
        for attr, (group, key) in ENDPOINT_ATTRS.items():
            container = obj.get(group) if group else obj
            if not isinstance(container, dict) or key not in container or container[key] is None:
                continue
            value, where = container[key], f"{path}.{group}.{key}" if group else f"{path}.{key}"
            if attr == "capabilities":
                if not isinstance(value, list) or any(not isinstance(c, str) for c in value):
                    self.problem(where, "must be a list of capabilities")
                    continue
                unknown = [c for c in value if c not in Capability.values]
                if unknown:
                    self.problem(where, f"unknown capability {', '.join(unknown)} (known: {', '.join(Capability.values)})")
                    continue
                attrs[attr] = [c for c in Capability.values if c in value]
            elif attr == "is_active":
                if not isinstance(value, bool):
                    self.problem(where, "must be true or false")
                    continue
                attrs[attr] = value
            elif attr in ("context_window", "max_in_flight"):
                number = self.number(value, where, integer=True, positive=True)
                if number is not None:
                    attrs[attr] = number
            elif group == "timeouts":
                number = self.number(value, where, positive=True)
                if number is not None:
                    attrs[attr] = float(number)
            else:
                number = self.number(value, where)
                if number is not None:
                    attrs[attr] = number
        return attrs


def load_yaml(text: str, *, file: str = "<input>") -> dict:
    """Parse a registry file; a YAML error or a non-mapping top level is ``RegistryFileInvalid``."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise RegistryFileInvalid([Problem(file, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise RegistryFileInvalid([Problem(file, "(file)", "the top level must be a mapping")])
    return doc


def _read(doc: dict, reader: _Reader, *, prune: bool) -> _Spec:
    """Check the whole file, every problem at once, and return what it asks for (to apply if no problem)."""
    reader.mapping(doc, "(file)", {"providers", "models", "endpoints", "policies", "prompts"})
    spec = _Spec(providers=_read_providers(doc, reader))
    existing_providers = set() if prune else set(Provider.objects.values_list("name", flat=True))
    book = _EndpointBook(reader, {p.name for p in spec.providers} | existing_providers)
    for i, raw in enumerate(reader.items(doc, "endpoints")):
        path = f"endpoints[{i}]"
        obj = reader.mapping(raw, path, ENDPOINT_KEYS)
        if obj is not None:
            book.describe(book.key(obj, path), path, reader.endpoint_attrs(obj, path))
    names: set[str] = set()
    for i, raw in enumerate(reader.items(doc, "models")):
        model = _read_model(raw, f"models[{i}]", reader, book)
        if model is None:
            continue
        if model.name in names:
            reader.problem(f"{model.path}.alias", f"model {model.name!r} is listed twice")
        names.add(model.name)
        spec.models.append(model)
    spec.endpoints = book.merged()
    spec.policies = read_policies(doc, reader)
    existing_aliases = set() if prune else set(ModelAlias.objects.values_list("name", flat=True))
    spec.prompts = read_prompts(doc, reader, aliases=names | existing_aliases)
    _check_references(spec, reader, prune=prune)
    return spec


def _read_providers(doc: dict, reader: _Reader) -> list[_ProviderSpec]:
    providers: list[_ProviderSpec] = []
    for i, raw in enumerate(reader.items(doc, "providers")):
        path = f"providers[{i}]"
        obj = reader.mapping(raw, path, PROVIDER_KEYS)
        if obj is None:
            continue
        name = reader.text(obj, "name", path, required=True)
        kind = reader.choice(obj, "kind", path, ProviderKind.values)
        api_key = reader.text(obj, "api_key", path)
        if api_key and not is_reference(api_key):
            # Never repeat the value: it may be the secret itself.
            reader.problem(f"{path}.api_key", "must be a secret reference (env:NAME, aws-sm:<id> or enc:<token>), "
                                              "not a secret")
            api_key = ""
        config = obj.get("config") or {}
        if not isinstance(config, dict):
            reader.problem(f"{path}.config", "must be a mapping")
            config = {}
        active = obj.get("active", True)
        if not isinstance(active, bool):
            reader.problem(f"{path}.active", "must be true or false")
        base_url = reader.text(obj, "base_url", path)
        if not _is_http_url(base_url):
            reader.problem(f"{path}.base_url", "must be an http:// or https:// URL")
        if kind in (ProviderKind.OPENAI_COMPATIBLE, ProviderKind.AZURE_OPENAI) and not base_url:
            reader.problem(f"{path}.base_url", f"is required for a {kind} provider")
        if any(p.name == name for p in providers):
            reader.problem(f"{path}.name", f"provider {name!r} is listed twice")
        if name:
            providers.append(_ProviderSpec(name, {
                "kind": kind, "base_url": base_url, "region": reader.text(obj, "region", path),
                "api_key": api_key, "config": config, "is_active": active is not False,
            }))
    return providers


class _EndpointBook:
    """What the file says about each endpoint, from every place that names one (routes, ``endpoints``)."""

    def __init__(self, reader: _Reader, providers: set[str]) -> None:
        self.reader, self.providers = reader, providers
        self.definitions: dict[EndpointKey, list[tuple[str, dict[str, Any]]]] = {}
        self.kinds: dict[EndpointKey, set[str]] = {}  # of the aliases routed to it: its default capabilities

    def key(self, obj: dict, path: str) -> EndpointKey | None:
        provider = self.reader.text(obj, "provider", path)
        upstream = self.reader.text(obj, "upstream_model", path)
        if not provider or not upstream:
            self.reader.problem(path, "a route or endpoint needs both provider and upstream_model (it leads nowhere)")
            return None
        if provider not in self.providers:
            self.reader.problem(f"{path}.provider", f"unknown provider {provider!r}")
            return None
        return (provider, upstream, self.reader.text(obj, "region", path))

    def describe(self, key: EndpointKey | None, path: str, attrs: dict[str, Any], *, kind: str | None = None) -> None:
        if key is None:
            return
        self.definitions.setdefault(key, []).append((path, attrs))
        if kind is not None:
            self.kinds.setdefault(key, set()).add(kind)

    def merged(self) -> dict[EndpointKey, dict[str, Any]]:
        """Each endpoint once: what every place says about it, contradictions refused."""
        endpoints = {}
        for key, defs in self.definitions.items():
            merged: dict[str, Any] = {}
            where: dict[str, str] = {}
            for path, attrs in defs:
                for attr, value in attrs.items():
                    if attr in merged and merged[attr] != value:
                        self.reader.problem(path, f"describes endpoint {_endpoint_name(key)} differently from "
                                                  f"{where[attr]} ({attr})")
                    else:
                        merged.setdefault(attr, value)
                        where.setdefault(attr, path)
            if "capabilities" not in merged:
                merged["capabilities"] = [c for c in Capability.values if c in self.kinds.get(key, set())]
            endpoints[key] = {**_ENDPOINT_DEFAULTS, **merged}
        return endpoints


def _read_model(raw: Any, path: str, reader: _Reader, book: _EndpointBook) -> _ModelSpec | None:
    obj = reader.mapping(raw, path, MODEL_KEYS)
    if obj is None:
        return None
    name = reader.text(obj, "alias", path, required=True)
    kind = reader.choice(obj, "kind", path, [k for k, _ in MODEL_KINDS], default=AliasKind.CHAT)
    status = reader.choice(obj, "status", path, AliasStatus.values, default=AliasStatus.DRAFT)
    strategy = reader.choice(obj, "strategy", path, RoutingStrategy.values, default=RoutingStrategy.WEIGHTED)
    sticky = reader.choice(obj, "sticky", path, [v for v in StickyAssignment.values if v], default="")
    fields: dict[str, Any] = {"kind": kind, "status": status, "strategy": strategy, "sticky": sticky,
                              "batch_discount_percent": 0}
    if "batch_discount_percent" in obj:
        discount = reader.number(obj["batch_discount_percent"], f"{path}.batch_discount_percent", integer=True)
        if discount is not None and discount > 100:
            reader.problem(f"{path}.batch_discount_percent", "is a percentage: at most 100")
        elif discount is not None:
            fields["batch_discount_percent"] = int(discount)
    for key in DATE_KEYS:
        fields[key] = reader.day(obj, key, path)
    if status == AliasStatus.DEPRECATED and fields["deprecated_on"] is None and "deprecated_on" not in obj:
        reader.problem(f"{path}.deprecated_on", "is required for a deprecated model")
    if status == AliasStatus.RETIRED and fields["retired_on"] is None and "retired_on" not in obj:
        reader.problem(f"{path}.retired_on", "is required for a retired model")
    if fields["sunset_on"] and fields["deprecated_on"] and fields["sunset_on"] < fields["deprecated_on"]:
        reader.problem(f"{path}.sunset_on", "cannot come before deprecated_on")
    owners = obj.get("owners")
    if owners is not None and (not isinstance(owners, list) or any(not isinstance(o, str) for o in owners)):
        reader.problem(f"{path}.owners", "must be a list of e-mail addresses")
        owners = None
    routes = _read_routes(obj, path, kind, reader, book)
    rules = _read_rules(obj, path, strategy, routes, reader)
    card = _read_card(obj, path, reader)
    replacement = reader.text(obj, "replacement", path) or None
    if not name:
        return None
    return _ModelSpec(name, path, fields, replacement, owners, routes, card, rules)


def _read_routes(obj: dict, path: str, kind: str, reader: _Reader, book: _EndpointBook) -> list[_RouteSpec]:
    model_attrs = reader.endpoint_attrs(obj, path)
    raw_routes = obj.get("routes") or []
    if not isinstance(raw_routes, list):
        reader.problem(f"{path}.routes", "must be a list")
        return []
    routes: list[_RouteSpec] = []
    seen: set[EndpointKey] = set()
    for j, raw_route in enumerate(raw_routes):
        rpath = f"{path}.routes[{j}]"
        robj = reader.mapping(raw_route, rpath, ROUTE_KEYS)
        if robj is None:
            continue
        key = book.key(robj, rpath)
        weight = reader.number(robj.get("weight", 100), f"{rpath}.weight", integer=True)
        priority = reader.number(robj.get("priority", 0), f"{rpath}.priority", integer=True)
        variant = reader.text(robj, "variant", rpath)
        if variant and not _is_variant(variant):
            reader.problem(f"{rpath}.variant", "must be a short label: letters, digits, dots, dashes, underscores "
                                               f"(at most {VARIANT_MAX_LENGTH})")
        shadow = reader.share(robj.get("shadow", 0), f"{rpath}.shadow")
        attrs = {**model_attrs, **reader.endpoint_attrs(robj, rpath)}
        if key is None:
            continue
        if key in seen:
            reader.problem(rpath, "routes to the same endpoint twice")
            continue
        seen.add(key)
        book.describe(key, rpath, attrs, kind=kind)
        if weight is not None and priority is not None and shadow is not None:
            routes.append(_RouteSpec(key, weight, priority, variant, shadow))
    if routes and all(route.shadow_sample > 0 for route in routes):
        reader.problem(f"{path}.routes", "needs a route that serves callers: shadow routes only get a copy of calls")
    return routes


def _read_rules(obj: dict, path: str, strategy: str, routes: list[_RouteSpec], reader: _Reader) -> list[_RuleSpec]:
    raw_rules = obj.get("rules")
    if raw_rules is None:
        return []
    if not isinstance(raw_rules, list):
        reader.problem(f"{path}.rules", "must be a list")
        return []
    if raw_rules and strategy != RoutingStrategy.RULES and strategy in RoutingStrategy.values:
        # Refused, not ignored: rules that look as if they applied but do not are worse than none.
        reader.problem(f"{path}.rules", f"only strategy rules uses rules (this model's strategy is {strategy}): "
                                        "set strategy: rules or remove them")
    by_key = {route.endpoint: route for route in routes}
    rules: list[_RuleSpec] = []
    for k, raw_rule in enumerate(raw_rules):
        rpath = f"{path}.rules[{k}]"
        robj = reader.mapping(raw_rule, rpath, RULE_KEYS)
        if robj is None:
            continue
        conditions = reader.conditions(robj.get("when"), f"{rpath}.when")
        uses = robj.get("use")
        if not isinstance(uses, list) or not uses:
            reader.problem(f"{rpath}.use", "must list the routes to use, e.g. [{provider: p, upstream_model: m}]")
            continue
        endpoints: list[EndpointKey] = []
        for u, raw_use in enumerate(uses):
            upath = f"{rpath}.use[{u}]"
            uobj = reader.mapping(raw_use, upath, USE_KEYS)
            if uobj is None:
                continue
            key = (reader.text(uobj, "provider", upath, required=True),
                   reader.text(uobj, "upstream_model", upath, required=True), reader.text(uobj, "region", upath))
            route = by_key.get(key)
            if not key[0] or not key[1]:
                continue
            if route is None:
                reader.problem(upath, f"{_endpoint_name(key)} is not a route of this model")
            elif route.shadow_sample > 0:
                reader.problem(upath, f"{_endpoint_name(key)} is a shadow route: shadow routes never serve callers")
            elif key in endpoints:
                reader.problem(upath, f"names {_endpoint_name(key)} twice")
            else:
                endpoints.append(key)
        if conditions is not None and len(endpoints) == len(uses):
            rules.append(_RuleSpec(rpath, conditions, endpoints))
    return rules


def _read_card(obj: dict, path: str, reader: _Reader) -> dict[str, Any] | None:
    card = obj.get("card")
    if card is None or reader.mapping(card, f"{path}.card", set(CARD_FIELDS)) is None:
        return None
    try:
        card = services.clean_card_fields({name: card.get(name) for name in CARD_FIELDS})
    except ValidationError as exc:
        for message in exc.messages:
            reader.problem(f"{path}.card", message)
        return None
    if not _is_http_url(card["license_url"]):
        reader.problem(f"{path}.card.license_url", "must be an http:// or https:// URL")
        return None
    return card


def _check_references(spec: _Spec, reader: _Reader, *, prune: bool) -> None:
    """What the file names that must exist: replacements, owners, the teams of rules."""
    aliases_in_file = {m.name for m in spec.models}
    existing_aliases = set() if prune else set(ModelAlias.objects.values_list("name", flat=True))
    teams_named = {slug for m in spec.models for rule in m.rules for slug in rule.conditions.get("tenants", ())}
    teams = set(Tenant.objects.filter(slug__in=teams_named).values_list("slug", flat=True)) if teams_named else set()
    for model in spec.models:
        if model.replacement and model.replacement not in aliases_in_file | existing_aliases:
            reader.problem(f"{model.path}.replacement", f"unknown model {model.replacement!r}")
        if model.replacement == model.name:
            reader.problem(f"{model.path}.replacement", "a model cannot replace itself")
        if model.owners:
            found = set(User.objects.filter(email__in=[o.lower() for o in model.owners]).values_list("email", flat=True))
            for owner in model.owners:
                if owner.lower() not in found:
                    reader.problem(f"{model.path}.owners", f"no user {owner}")
        for rule in model.rules:
            for slug in rule.conditions.get("tenants", ()):
                if slug not in teams:
                    reader.problem(f"{rule.path}.when.tenants", f"no team {slug!r}")
    check_policy_names(spec.policies, reader, aliases=aliases_in_file | existing_aliases)


def _endpoint_name(key: EndpointKey) -> str:
    provider, upstream, region = key
    return f"{provider}/{upstream}" + (f" ({region})" if region else "")


# --- applying ------------------------------------------------------------------------------------

def apply_registry(
    doc: dict | str, *, file: str = "<input>", actor: User | None = None, prune: bool = False, dry_run: bool = False,
) -> ApplyResult:
    """Make the registry match ``doc`` (parsed YAML, or its text) and return what changed.

    Everything happens in one transaction: when anything is wrong — in the file, or refused by a
    service (an impossible status move, say) — every problem is raised together in
    ``RegistryFileInvalid`` and nothing is applied. ``dry_run`` computes the same diff and rolls
    back. ``prune`` also removes models, endpoints and providers the file does not mention.
    """
    if isinstance(doc, str):
        doc = load_yaml(doc, file=file)
    reader = _Reader(file)
    spec = _read(doc, reader, prune=prune)
    if reader.problems:
        raise RegistryFileInvalid(reader.problems)
    with transaction.atomic():
        changes = _Applier(spec, reader, actor).run(prune=prune)
        if reader.problems:
            transaction.set_rollback(True)
            raise RegistryFileInvalid(reader.problems)
        if dry_run:
            transaction.set_rollback(True)
        else:
            record_event(action="registry.apply", actor=actor, changes={
                "file": file, "prune": prune,
                **{a: [str(c) for c in changes if c.action == a] for a in ("created", "changed", "requested", "removed")},
            })
    return ApplyResult(changes, dry_run)


class _Applier:
    def __init__(self, spec: _Spec, reader: _Reader, actor: User | None) -> None:
        self.spec, self.reader, self.actor = spec, reader, actor
        self.changes: list[Change] = []

    def attempt(self, path: str, call: Callable[[], Any]) -> Any:
        """Run one service call; a refusal becomes a problem of the file (its savepoint is rolled back)."""
        try:
            return call()
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.message_dict.items():
                    for message in errors:
                        self.reader.problem(f"{path}.{name}" if name != "__all__" else path, message)
            else:
                for message in exc.messages:
                    self.reader.problem(path, message)
            return None

    def note(self, action: str, kind: str, name: str, fields: Any = ()) -> None:
        self.changes.append(Change(action, kind, name, tuple(sorted(fields))))

    def run(self, *, prune: bool) -> list[Change]:
        providers = self.providers()
        endpoints = self.endpoints(providers)
        self.models(endpoints)
        apply_policies(self.spec.policies, self, prune=prune)
        apply_prompts(self.spec.prompts, self)
        if prune:
            self.prune()
        return self.changes

    def providers(self) -> dict[str, Provider]:
        by_name = {p.name: p for p in Provider.objects.all()}
        for i, spec in enumerate(self.spec.providers):
            current = by_name.get(spec.name)
            if current is None:
                created = self.attempt(f"providers[{i}]", lambda s=spec: services.create_provider(
                    actor=self.actor, name=s.name, **s.fields))
                if created:
                    by_name[spec.name] = created
                    self.note("created", "provider", spec.name)
                continue
            diff = {k: v for k, v in spec.fields.items() if getattr(current, k) != v}
            if diff:
                self.attempt(f"providers[{i}]", lambda c=current, d=diff: services.update_provider(
                    actor=self.actor, provider=c, **d))
            self.note("changed" if diff else "unchanged", "provider", spec.name, diff)
        return by_name

    def endpoints(self, providers: dict[str, Provider]) -> dict[EndpointKey, Endpoint]:
        by_key = {(e.provider.name, e.upstream_model, e.region): e for e in Endpoint.objects.select_related("provider")}
        for key, attrs in self.spec.endpoints.items():
            provider = providers.get(key[0])
            if provider is None:
                continue  # its creation failed: already a problem
            current = by_key.get(key)
            fields = {**attrs, "region": key[2]}
            if current is None:
                created = self.attempt(f"endpoint {_endpoint_name(key)}", lambda f=fields, p=provider, k=key:
                                       services.create_endpoint(actor=self.actor, provider=p, upstream_model=k[1], **f))
                if created:
                    by_key[key] = created
                    self.note("created", "endpoint", _endpoint_name(key))
                continue
            diff = {k: v for k, v in fields.items() if getattr(current, k) != v}
            if diff:
                self.attempt(f"endpoint {_endpoint_name(key)}", lambda c=current, d=diff:
                             services.update_endpoint(actor=self.actor, endpoint=c, **d))
            self.note("changed" if diff else "unchanged", "endpoint", _endpoint_name(key), diff)
        return by_key

    def models(self, endpoints: dict[EndpointKey, Endpoint]) -> None:
        by_name = {a.name: a for a in ModelAlias.objects.select_related("replacement", "card")}
        users = {u.email: u for u in User.objects.filter(
            email__in=[o.lower() for m in self.spec.models for o in (m.owners or [])])}
        touched: dict[str, set[str]] = {}
        created: set[str] = set()
        for spec in self.spec.models:
            owners = [users[o.lower()] for o in spec.owners] if spec.owners is not None else None
            current = by_name.get(spec.name)
            if current is None:
                alias = self.attempt(spec.path, lambda s=spec, o=owners: services.create_alias(
                    actor=self.actor, name=s.name, fill_dates=False, owners=o or (), **s.fields))
                if alias is None:
                    continue
                by_name[spec.name] = alias
                created.add(spec.name)
                touched[spec.name] = set()
            else:
                diff = {k: v for k, v in spec.fields.items() if getattr(current, k) != v}
                if owners is not None and set(current.owners.all()) != set(owners):
                    diff["owners"] = owners
                if "strategy" in diff and current.strategy == RoutingStrategy.RULES:
                    # Leaving the rules strategy: the file has no rules then (the reader saw to it), and the
                    # service refuses the move while the alias still has some.
                    self.attempt(f"{spec.path}.rules", lambda c=current: services.set_rules(
                        actor=self.actor, alias=c, rules=[]))
                if diff:
                    self.attempt(spec.path, lambda c=current, d=diff: services.update_alias(
                        actor=self.actor, alias=c, fill_dates=False, **d))
                touched[spec.name] = set(diff)
        for spec in self.spec.models:  # second pass: every alias exists now
            alias = by_name.get(spec.name)
            if alias is None:
                continue
            replacement = by_name.get(spec.replacement) if spec.replacement else None
            if alias.replacement_id != (replacement.pk if replacement else None):
                self.attempt(spec.path, lambda a=alias, r=replacement: services.update_alias(
                    actor=self.actor, alias=a, fill_dates=False, replacement=r))
                touched[spec.name].add("replacement")
            touched[spec.name] |= self.routing(alias, spec, endpoints)
            if spec.card is not None:
                card = ModelCard.objects.filter(alias=alias).first()
                if card is None or card.content() != spec.card:
                    self.attempt(f"{spec.path}.card", lambda a=alias, c=spec.card: services.update_card(
                        actor=self.actor, alias=a, note="registry apply", **c))
                    touched[spec.name].add("card")
            if spec.name in created:
                self.note("created", "model", spec.name)
            else:
                fields = touched[spec.name]
                self.note("changed" if fields else "unchanged", "model", spec.name, fields)

    def routing(self, alias: ModelAlias, spec: _ModelSpec, endpoints: dict[EndpointKey, Endpoint]) -> set[str]:
        """Make the alias's routes and rules the file's (one service call for both); return which changed."""
        routes = [services.RouteSpec(endpoints[r.endpoint], r.weight, r.priority, r.variant, r.shadow_sample)
                  for r in spec.routes if r.endpoint in endpoints]
        rules = [services.RuleSpec(endpoints=tuple(endpoints[key] for key in rule.endpoints), **rule.conditions)
                 for rule in spec.rules if all(key in endpoints for key in rule.endpoints)]
        saved_routes = [services.RouteSpec.of(route) for route in alias.routes.select_related("endpoint")]
        saved_rules = [services.RuleSpec.of(rule) for rule in selectors.routing_rules(alias)]
        changed = set()
        if sorted(map(_route_facts, saved_routes)) != sorted(map(_route_facts, routes)):
            changed.add("routes")
        if saved_rules != rules:
            changed.add("rules")
        if changed:
            self.attempt(f"{spec.path}.routes" if "routes" in changed else f"{spec.path}.rules",
                         lambda: services.set_routes(actor=self.actor, alias=alias, routes=routes, rules=rules))
        return changed

    def prune(self) -> None:
        wanted_models = {m.name for m in self.spec.models}
        for alias in ModelAlias.objects.exclude(name__in=wanted_models).exclude(kind=AliasKind.PROMPT):
            self.attempt(f"(prune) model {alias.name}", lambda a=alias: services.delete_alias(actor=self.actor, alias=a))
            self.note("removed", "model", alias.name)
        for endpoint in Endpoint.objects.select_related("provider"):
            key = (endpoint.provider.name, endpoint.upstream_model, endpoint.region)
            if key not in self.spec.endpoints:
                self.attempt(f"(prune) endpoint {_endpoint_name(key)}",
                             lambda e=endpoint: services.delete_endpoint(actor=self.actor, endpoint=e))
                self.note("removed", "endpoint", _endpoint_name(key))
        wanted_providers = {p.name for p in self.spec.providers}
        for provider in Provider.objects.exclude(name__in=wanted_providers):
            self.attempt(f"(prune) provider {provider.name}",
                         lambda p=provider: services.delete_provider(actor=self.actor, provider=p))
            self.note("removed", "provider", provider.name)


def _route_facts(route: services.RouteSpec) -> tuple:
    return (route.endpoint.pk, route.weight, route.priority, route.variant, route.shadow_sample)


# --- exporting ------------------------------------------------------------------------------------

def _plain_number(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _endpoint_values(endpoint: Endpoint) -> dict[str, Any]:
    return {attr: getattr(endpoint, attr) for attr in ENDPOINT_ATTRS}


def _write_attrs(target: dict, attrs: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Write the non-default endpoint attributes into ``target`` in the file's shape."""
    for attr, value in attrs.items():
        if value == defaults[attr]:
            continue
        group, key = ENDPOINT_ATTRS[attr]
        value = list(value) if attr == "capabilities" else _plain_number(value)
        if group:
            target.setdefault(group, {})[key] = value
        else:
            target[key] = value


def export_registry() -> dict:
    """The whole registry as a document ``apply_registry`` accepts (secrets as their references)."""
    doc: dict[str, Any] = {"providers": [], "models": []}
    for provider in Provider.objects.order_by("name"):
        entry: dict[str, Any] = {"name": provider.name, "kind": provider.kind}
        for key in ("base_url", "region", "api_key", "config"):
            if getattr(provider, key):
                entry[key] = getattr(provider, key)
        if not provider.is_active:
            entry["active"] = False
        doc["providers"].append(entry)

    aliases = ModelAlias.objects.exclude(kind=AliasKind.PROMPT).select_related("replacement", "card").prefetch_related(
        "owners", "routes__endpoint__provider", "routing_rules__targets__route__endpoint__provider").order_by("name")
    doc["models"] = [_export_model(alias) for alias in aliases]
    if policies := export_policies():
        doc["policies"] = policies
    if prompts := export_prompts():
        doc["prompts"] = prompts

    routed = {route.endpoint_id for alias in aliases for route in alias.routes.all()}
    orphans = Endpoint.objects.select_related("provider").exclude(pk__in=routed).order_by(
        "provider__name", "upstream_model", "region")
    if orphans:
        doc["endpoints"] = []
        for endpoint in orphans:
            item = _endpoint_ref(endpoint)
            _write_attrs(item, _endpoint_values(endpoint), _ENDPOINT_DEFAULTS)
            doc["endpoints"].append(item)
    return doc


def _endpoint_ref(endpoint: Endpoint) -> dict[str, Any]:
    item: dict[str, Any] = {"provider": endpoint.provider.name, "upstream_model": endpoint.upstream_model}
    if endpoint.region:
        item["region"] = endpoint.region
    return item


def _export_model(alias: ModelAlias) -> dict[str, Any]:
    entry: dict[str, Any] = {"alias": alias.name, "kind": alias.kind, "status": alias.status}
    for key in DATE_KEYS:
        if getattr(alias, key):
            entry[key] = getattr(alias, key).isoformat()
    if alias.replacement_id:
        entry["replacement"] = alias.replacement.name
    owners = sorted(u.email for u in alias.owners.all())
    if owners:
        entry["owners"] = owners
    if alias.strategy != RoutingStrategy.WEIGHTED:
        entry["strategy"] = alias.strategy
    if alias.sticky:
        entry["sticky"] = alias.sticky
    if alias.batch_discount_percent:
        entry["batch_discount_percent"] = alias.batch_discount_percent
    # Serving routes in fallback order, then the shadows.
    routes = sorted(alias.routes.all(), key=lambda r: (r.is_shadow, r.priority, -r.weight, r.endpoint.provider.name,
                                                       r.endpoint.upstream_model, r.endpoint.region))
    defaults = {**_ENDPOINT_DEFAULTS, "capabilities": [alias.kind]}
    values = [_endpoint_values(r.endpoint) for r in routes]
    shared = {attr: values[0][attr] for attr in ENDPOINT_ATTRS
              if values and all(v[attr] == values[0][attr] for v in values)}
    entry["routes"] = []
    for route, route_values in zip(routes, values, strict=True):
        item = _export_route(route)
        _write_attrs(item, {a: v for a, v in route_values.items() if a not in shared}, defaults)
        entry["routes"].append(item)
    rules = [_export_rule(rule) for rule in alias.routing_rules.all()]
    if rules:
        entry["rules"] = rules
    _write_attrs(entry, shared, defaults)
    card = getattr(alias, "card", None)
    if card is not None:
        content = {k: v for k, v in card.content().items() if v}
        if "evaluations" in content:  # the database may reorder JSON keys
            content["evaluations"] = [{k: e.get(k) for k in ("name", "metric", "value", "date")}
                                      for e in content["evaluations"]]
        if content:
            entry["card"] = content
    return entry


def _export_route(route: Route) -> dict[str, Any]:
    item = _endpoint_ref(route.endpoint)
    if not route.is_shadow or route.weight != 100:  # a shadow's weight means nothing; written only if set
        item["weight"] = route.weight
    if route.priority:
        item["priority"] = route.priority
    if route.variant:
        item["variant"] = route.variant
    if route.is_shadow:
        item["shadow"] = _plain_number(route.shadow_sample)
    return item


def _export_rule(rule: RoutingRule) -> dict[str, Any]:
    item: dict[str, Any] = {}
    conditions = rule.conditions()
    if conditions:
        item["when"] = conditions
    item["use"] = [_endpoint_ref(target.route.endpoint) for target in rule.targets.all()]
    return item


def dump_yaml(doc: dict) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
