"""Every change to the registry goes through one of these functions.

Each checks permission (``actor=None`` is the system: commands, the seed, tasks), writes in
one transaction, records one audit event per change and bumps the ``registry`` config
version so gateways reload their routing table.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils import timezone

from aiplatform import config_version
from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from aiplatform.permissions import require
from registry.models import (
    AliasKind,
    AliasStatus,
    Endpoint,
    ModelAlias,
    ModelCard,
    ModelCardVersion,
    Provider,
    Route,
    RoutingRule,
    RoutingRuleTarget,
    RoutingStrategy,
    StickyAssignment,
)
from registry.models.aliases import ALLOWED_TRANSITIONS
from registry.models.cards import CARD_FIELDS
from registry.models.rules import CONDITION_LISTS, canonical_values
from registry.secrets import describe_reference

NAMESPACE = "registry"

PROVIDER_FIELDS = ("kind", "base_url", "region", "api_key", "config", "is_active")
ENDPOINT_FIELDS = (
    "region", "capabilities", "context_window", "connect_timeout", "first_byte_timeout", "total_timeout",
    "input_price_per_mtok", "output_price_per_mtok", "price_per_image", "price_per_request", "max_in_flight",
    "is_active",
)
ALIAS_FIELDS = ("kind", "status", "approved_on", "deprecated_on", "sunset_on", "retired_on", "replacement", "owners",
                "strategy", "sticky", "batch_discount_percent")
_TAG = re.compile(r"^[a-z0-9][a-z0-9-]*$")


@dataclass(frozen=True)
class RouteSpec:
    """A wanted route of an alias: ``set_routes`` makes the alias's routes match a list of these.

    ``shadow_sample`` above 0 makes it a shadow route (mirrored traffic only; weight and priority unused).
    """

    endpoint: Endpoint
    weight: int = 100
    priority: int = 0
    variant: str = ""
    shadow_sample: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        if not isinstance(self.shadow_sample, Decimal):  # a float from a caller: its decimal text, not its binary
            try:
                object.__setattr__(self, "shadow_sample", Decimal(str(self.shadow_sample)))
            except InvalidOperation:
                raise ValidationError({"shadow_sample": "Give a number from 0 to 1."}) from None

    @classmethod
    def of(cls, route: Route) -> RouteSpec:
        """The spec that keeps ``route`` as it is (to change one route among the others)."""
        return cls(route.endpoint, route.weight, route.priority, route.variant, route.shadow_sample)

    @property
    def is_shadow(self) -> bool:
        return self.shadow_sample > 0


@dataclass(frozen=True)
class RuleSpec:
    """A wanted routing rule: its conditions (empty: any) and the endpoints of the alias's routes to use, in order."""

    endpoints: tuple[Endpoint, ...]
    tenants: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    classifications: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None

    @classmethod
    def of(cls, rule: RoutingRule) -> RuleSpec:
        """The spec of a saved rule (its targets and their routes' endpoints loaded or not)."""
        return cls(
            endpoints=tuple(t.route.endpoint for t in rule.targets.all()),
            **{name: tuple(getattr(rule, name)) for name in CONDITION_LISTS},
            min_prompt_tokens=rule.min_prompt_tokens, max_prompt_tokens=rule.max_prompt_tokens,
        )


def _service(action: str, *, on: str | None = None) -> Callable:
    """Check ``action`` (on the keyword argument ``on``) for the actor, then run the service in a transaction.

    The check comes first, outside the transaction, so the audited refusal is not rolled back with it.
    ``actor=None`` is the system and is not checked.
    """

    def decorate(service: Callable) -> Callable:
        @functools.wraps(service)
        def run(*, actor: User | None, **kwargs: Any) -> Any:
            if actor is not None:
                require(actor, action, kwargs.get(on) if on else None)
            with transaction.atomic():
                return service(actor=actor, **kwargs)

        return run

    return decorate


def _changed(before: Any, after: Any) -> bool:
    return before != after


def _audit_value(field: str, value: Any) -> Any:
    if field == "api_key":
        return describe_reference(value)
    if field == "replacement":
        return value.name if value is not None else None
    if field == "owners":
        return sorted(u.email for u in value)
    return value


def _apply_fields(obj: Any, allowed: Iterable[str], fields: dict[str, Any]) -> dict[str, list]:
    """Set ``fields`` on ``obj``; return ``{field: [before, after]}`` of what really changed."""
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"unknown fields: {', '.join(sorted(unknown))}")
    diff: dict[str, list] = {}
    for field, value in fields.items():
        before = getattr(obj, field)
        if _changed(before, value):
            diff[field] = [_audit_value(field, before), _audit_value(field, value)]
            setattr(obj, field, value)
    return diff


def _changed_registry() -> None:
    config_version.bump(NAMESPACE)


# --- providers ----------------------------------------------------------------------------

@_service("provider.manage")
def create_provider(
    *, actor: User | None, name: str, kind: str, base_url: str = "", region: str = "", api_key: str = "",
    config: dict | None = None, is_active: bool = True,
) -> Provider:
    """Register a provider. ``api_key`` must be a secret reference (see ``registry.secrets``)."""
    provider = Provider(name=name, kind=kind, base_url=base_url, region=region, api_key=api_key,
                        config=config or {}, is_active=is_active)
    provider.full_clean()
    provider.save()
    record_event(action="provider.create", actor=actor, target=provider, changes={
        "name": name, "kind": kind, "base_url": base_url, "region": region,
        "api_key": describe_reference(api_key), "config": provider.config, "is_active": is_active,
    })
    _changed_registry()
    return provider


@_service("provider.manage", on="provider")
def update_provider(*, actor: User | None, provider: Provider, **fields: Any) -> Provider:
    """Change some of ``kind, base_url, region, api_key, config, is_active``; a no-op records nothing."""
    diff = _apply_fields(provider, PROVIDER_FIELDS, fields)
    if not diff:
        return provider
    provider.full_clean()
    provider.save()
    record_event(action="provider.update", actor=actor, target=provider, changes=diff)
    _changed_registry()
    return provider


@_service("provider.manage", on="provider")
def delete_provider(*, actor: User | None, provider: Provider) -> None:
    """Remove a provider that no endpoint uses any more."""
    if provider.endpoints.exists():
        raise ValidationError(f"Provider {provider.name} still has endpoints; remove them first.")
    record_event(action="provider.delete", actor=actor, target=provider, changes={"name": provider.name})
    provider.delete()
    _changed_registry()


# --- endpoints ----------------------------------------------------------------------------

def _decimal_fields(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    for name in ("input_price_per_mtok", "output_price_per_mtok", "price_per_image", "price_per_request"):
        if name in out and out[name] is not None:
            try:
                out[name] = Decimal(str(out[name]))
            except InvalidOperation:
                raise ValidationError({name: "Give a number."}) from None
    return out


def _endpoint_audit(endpoint: Endpoint) -> dict[str, Any]:
    return {"provider": endpoint.provider.name, "upstream_model": endpoint.upstream_model,
            **{f: getattr(endpoint, f) for f in ENDPOINT_FIELDS}}


@_service("endpoint.manage")
def create_endpoint(*, actor: User | None, provider: Provider, upstream_model: str, **fields: Any) -> Endpoint:
    """Register a deployment of ``upstream_model`` at ``provider`` (fields: see ``ENDPOINT_FIELDS``)."""
    endpoint = Endpoint(provider=provider, upstream_model=upstream_model)
    _apply_fields(endpoint, ENDPOINT_FIELDS, _decimal_fields(fields))
    endpoint.full_clean()
    endpoint.save()
    record_event(action="endpoint.create", actor=actor, target=endpoint, changes=_endpoint_audit(endpoint))
    _changed_registry()
    return endpoint


@_service("endpoint.manage", on="endpoint")
def update_endpoint(*, actor: User | None, endpoint: Endpoint, **fields: Any) -> Endpoint:
    """Change some of ``ENDPOINT_FIELDS``; a no-op records nothing."""
    fields = _decimal_fields(fields)
    if "capabilities" in fields:  # compare in canonical order
        from registry.models import Capability

        fields["capabilities"] = [c for c in Capability.values if c in (fields["capabilities"] or [])] + [
            c for c in (fields["capabilities"] or []) if c not in Capability.values]
    diff = _apply_fields(endpoint, ENDPOINT_FIELDS, fields)
    if not diff:
        return endpoint
    endpoint.full_clean()
    endpoint.save()
    record_event(action="endpoint.update", actor=actor, target=endpoint, changes=diff)
    _changed_registry()
    return endpoint


@_service("endpoint.manage", on="endpoint")
def delete_endpoint(*, actor: User | None, endpoint: Endpoint) -> None:
    """Remove an endpoint no route uses any more."""
    if endpoint.routes.exists():
        names = ", ".join(sorted(endpoint.routes.values_list("alias__name", flat=True)))
        raise ValidationError(f"Endpoint {endpoint} is still routed to by {names}.")
    record_event(action="endpoint.delete", actor=actor, target=endpoint, changes=_endpoint_audit(endpoint))
    endpoint.delete()
    _changed_registry()


# --- aliases and routes -----------------------------------------------------------------

_STATUS_DATE = {
    AliasStatus.APPROVED: "approved_on",
    AliasStatus.DEPRECATED: "deprecated_on",
    AliasStatus.RETIRED: "retired_on",
}


def _check_status_fields(
    alias: ModelAlias, fields: dict[str, Any], *, creating: bool, fill_dates: bool = True
) -> dict[str, Any]:
    """Validate a status move and (``fill_dates``) fill in the date of the new status when none is given."""
    fields = dict(fields)
    status = fields.get("status", alias.status)
    if status not in AliasStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}; use one of {', '.join(AliasStatus.values)}."})
    if not creating and status != alias.status and status not in ALLOWED_TRANSITIONS[alias.status]:
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[alias.status])) or "nothing (it is final)"
        raise ValidationError({"status": f"An alias that is {alias.status} can move to {allowed}, not {status}."})
    if fill_dates and (status != alias.status or creating):
        today = timezone.localdate()
        date_field = _STATUS_DATE.get(status)
        if date_field and fields.get(date_field) is None and getattr(alias, date_field) is None:
            fields[date_field] = today
        if status == AliasStatus.APPROVED and alias.status == AliasStatus.DEPRECATED:  # deprecation withdrawn
            fields.setdefault("deprecated_on", None)
            fields.setdefault("sunset_on", None)
    return fields


def _save_owners(alias: ModelAlias, owners: Iterable[User] | None) -> None:
    if owners is not None:
        alias.owners.set(list(owners))


@_service("alias.manage")
def create_alias(
    *, actor: User | None, name: str, kind: str = AliasKind.CHAT, status: str = AliasStatus.DRAFT,
    replacement: ModelAlias | None = None, owners: Iterable[User] = (), fill_dates: bool = True,
    strategy: str = RoutingStrategy.WEIGHTED, sticky: str = StickyAssignment.NONE, batch_discount_percent: int = 0,
    **dates: date | None,
) -> ModelAlias:
    """Create an alias (a draft unless told otherwise) with an empty card.

    The date of the status (``approved_on``, ...) defaults to today unless ``fill_dates`` is False.
    """
    alias = ModelAlias(name=name)
    fields = _check_status_fields(alias, {"kind": kind, "status": status, "replacement": replacement,
                                          "strategy": strategy, "sticky": sticky,
                                          "batch_discount_percent": batch_discount_percent, **dates},
                                  creating=True, fill_dates=fill_dates)
    _apply_fields(alias, set(ALIAS_FIELDS) - {"owners"}, fields)
    alias.full_clean()
    alias.save()
    owners = list(owners)
    _save_owners(alias, owners)
    ModelCard.objects.create(alias=alias)
    record_event(action="alias.create", actor=actor, target=alias, changes={
        "name": name, **{k: _audit_value(k, v) for k, v in fields.items()}, "owners": _audit_value("owners", owners),
    })
    _changed_registry()
    return alias


@_service("alias.manage", on="alias")
def update_alias(*, actor: User | None, alias: ModelAlias, fill_dates: bool = True, **fields: Any) -> ModelAlias:
    """Change kind, status (along the lifecycle), dates, replacement, owners, routing strategy or sticky.

    A new status's date defaults to today unless ``fill_dates`` is False (registry as code,
    where the file is the truth). Leaving the ``rules`` strategy is refused while the alias has
    rules: only that strategy uses them, and rules kept unused would look like they apply.
    """
    fields = _check_status_fields(alias, fields, creating=False, fill_dates=fill_dates)
    leaving_rules = alias.strategy == RoutingStrategy.RULES and fields.get("strategy", alias.strategy) != alias.strategy
    if leaving_rules and (count := RoutingRule.objects.filter(alias=alias).count()):
        raise ValidationError({"strategy": f"Remove the {count} routing rule{'s' if count > 1 else ''} of "
                                           f"{alias.name} first: only the rules strategy uses them."})
    owners = fields.pop("owners", None)
    diff = _apply_fields(alias, set(ALIAS_FIELDS) - {"owners"}, fields)
    if owners is not None:
        before = set(alias.owners.all())
        if before != set(owners):
            diff["owners"] = [_audit_value("owners", before), _audit_value("owners", owners)]
            _save_owners(alias, owners)
    if not diff:
        return alias
    alias.full_clean()
    alias.save()
    action = "alias.change_status" if "status" in diff else "alias.update"
    record_event(action=action, actor=actor, target=alias, changes=diff)
    _changed_registry()
    return alias


@_service("alias.manage", on="alias")
def delete_alias(*, actor: User | None, alias: ModelAlias) -> None:
    """Remove an alias with its routes and card. Prefer retiring one that callers used."""
    record_event(action="alias.delete", actor=actor, target=alias, changes={"name": alias.name, "status": alias.status})
    try:
        with transaction.atomic():
            alias.delete()
    except ProtectedError:
        raise ValidationError(f"Alias {alias.name} is still in use (subscriptions); retire it instead.") from None
    _changed_registry()


def _check_route_specs(alias: ModelAlias, routes: Sequence[RouteSpec]) -> None:
    endpoints = [spec.endpoint.pk for spec in routes]
    if len(set(endpoints)) != len(endpoints):
        raise ValidationError("Each endpoint may appear only once among an alias's routes.")
    for spec in routes:
        if spec.weight < 0 or spec.priority < 0:
            raise ValidationError("Weights and priorities cannot be negative.")
        if alias.kind == AliasKind.EMBEDDINGS and "embeddings" not in spec.endpoint.capabilities:
            raise ValidationError(f"Endpoint {spec.endpoint} cannot serve embeddings.")
        if alias.kind == AliasKind.CHAT and "chat" not in spec.endpoint.capabilities:
            raise ValidationError(f"Endpoint {spec.endpoint} cannot serve chat.")
        try:
            Route(alias=alias, endpoint=spec.endpoint, weight=spec.weight, priority=spec.priority,
                  variant=spec.variant, shadow_sample=spec.shadow_sample).clean_fields(exclude=["alias", "endpoint"])
        except ValidationError as exc:
            raise ValidationError({name: [f"Route to {spec.endpoint}: {m}" for m in messages]
                                   for name, messages in exc.message_dict.items()}) from None
    if routes and all(spec.is_shadow for spec in routes):
        raise ValidationError({"shadow_sample": "An alias needs a route that serves callers: "
                                                "shadow routes only receive a copy of calls."})


def _clean_rules(alias: ModelAlias, rules: Sequence[RuleSpec], routes: Sequence[RouteSpec]) -> list[RuleSpec]:
    """Check ``rules`` against the alias's (wanted) ``routes``; return them with their lists in one canonical order."""
    if rules and alias.strategy != RoutingStrategy.RULES:
        raise ValidationError(f"Routing rules are used only by the rules strategy; {alias.name} uses "
                              f"{alias.strategy}. Choose the rules strategy first.")
    by_endpoint = {spec.endpoint.pk: spec for spec in routes}
    wanted_teams = {slug for rule in rules for slug in rule.tenants}
    teams = set(Tenant.objects.filter(slug__in=wanted_teams).values_list("slug", flat=True)) if wanted_teams else set()
    cleaned = []
    for number, rule in enumerate(rules, start=1):
        where = f"Rule {number}"
        if not rule.endpoints:
            raise ValidationError({"endpoints": f"{where} names no route to use."})
        if len({e.pk for e in rule.endpoints}) != len(rule.endpoints):
            raise ValidationError({"endpoints": f"{where} names a route twice."})
        for endpoint in rule.endpoints:
            route = by_endpoint.get(endpoint.pk)
            if route is None:
                raise ValidationError({"endpoints": f"{where} names {endpoint}, which is not a route of {alias.name}."})
            if route.is_shadow:
                raise ValidationError({"endpoints": f"{where} names the shadow route {endpoint}: "
                                                    "shadow routes never serve callers."})
        if unknown := sorted(set(rule.tenants) - teams):
            raise ValidationError({"tenants": f"{where}: no team {', '.join(unknown)}."})
        row = RoutingRule(alias=alias, position=number, min_prompt_tokens=rule.min_prompt_tokens,
                          max_prompt_tokens=rule.max_prompt_tokens,
                          **{name: list(getattr(rule, name)) for name in CONDITION_LISTS})
        try:
            row.full_clean(exclude=["alias"], validate_constraints=False)
        except ValidationError as exc:
            raise ValidationError({name: [f"{where}: {m}" for m in messages]
                                   for name, messages in exc.message_dict.items()}) from None
        cleaned.append(RuleSpec(
            endpoints=tuple(rule.endpoints),
            **{name: canonical_values(name, getattr(rule, name)) for name in CONDITION_LISTS},
            min_prompt_tokens=rule.min_prompt_tokens, max_prompt_tokens=rule.max_prompt_tokens,
        ))
    return cleaned


def _saved_rules(alias: ModelAlias) -> list[RuleSpec]:
    rules = RoutingRule.objects.filter(alias=alias).prefetch_related("targets__route__endpoint__provider")
    return [RuleSpec.of(rule) for rule in rules]


def _write_rules(alias: ModelAlias, rules: Sequence[RuleSpec]) -> None:
    routes = {route.endpoint_id: route for route in Route.objects.filter(alias=alias)}  # not a stale prefetch
    for position, rule in enumerate(rules, start=1):
        row = RoutingRule.objects.create(
            alias=alias, position=position, min_prompt_tokens=rule.min_prompt_tokens,
            max_prompt_tokens=rule.max_prompt_tokens, **{name: list(getattr(rule, name)) for name in CONDITION_LISTS})
        RoutingRuleTarget.objects.bulk_create([
            RoutingRuleTarget(rule=row, route=routes[endpoint.pk], position=place)
            for place, endpoint in enumerate(rule.endpoints, start=1)])


def _describe_rules(rules: Sequence[RuleSpec]) -> list[str]:
    return [_describe_rule(number, rule) for number, rule in enumerate(rules, start=1)]


def _describe_rule(number: int, rule: RuleSpec) -> str:
    conditions = [f"{name}={','.join(getattr(rule, name))}" for name in CONDITION_LISTS if getattr(rule, name)]
    if rule.min_prompt_tokens is not None:
        conditions.append(f"prompt>={rule.min_prompt_tokens}")
    if rule.max_prompt_tokens is not None:
        conditions.append(f"prompt<={rule.max_prompt_tokens}")
    return f"{number}: {' '.join(conditions) or 'any call'} → {', '.join(str(e) for e in rule.endpoints)}"


@_service("alias.manage", on="alias")
def set_routes(
    *, actor: User | None, alias: ModelAlias, routes: Sequence[RouteSpec], rules: Sequence[RuleSpec] | None = None,
) -> list[Route]:
    """Make the alias's routes exactly ``routes`` (one per endpoint) and, when ``rules`` is given, its routing
    rules exactly ``rules``; records one event for the routes and one for the rules when they change.

    Without ``rules`` the rules are kept, so a route a rule names cannot be removed or made a shadow.
    """
    _check_route_specs(alias, routes)
    saved_rules = _saved_rules(alias)
    if rules is None:
        _check_rules_keep_their_routes(saved_rules, routes)
        wanted_rules = saved_rules
    else:
        wanted_rules = _clean_rules(alias, rules, routes)
    rules_changed = _describe_rules(saved_rules) != _describe_rules(wanted_rules)
    if rules_changed:
        RoutingRule.objects.filter(alias=alias).delete()  # before the routes: a rule's routes cannot go while it names them
    current = {route.endpoint_id: route for route in alias.routes.select_related("endpoint__provider")}
    before = sorted(_describe_route(r) for r in current.values())
    wanted = {spec.endpoint.pk: spec for spec in routes}
    for endpoint_id, route in current.items():
        if endpoint_id not in wanted:
            route.delete()
    for endpoint_id, spec in wanted.items():
        route = current.get(endpoint_id)
        values = {"weight": spec.weight, "priority": spec.priority, "variant": spec.variant,
                  "shadow_sample": spec.shadow_sample}
        if route is None:
            Route.objects.create(alias=alias, endpoint=spec.endpoint, **values)
        elif any(getattr(route, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(route, name, value)
            route.save(update_fields=list(values))
    after = sorted(_describe_route(spec) for spec in routes)
    if before != after:
        record_event(action="alias.set_routes", actor=actor, target=alias, changes={"routes": [before, after]})
    if rules_changed:
        _write_rules(alias, wanted_rules)
        record_event(action="alias.set_rules", actor=actor, target=alias,
                     changes={"rules": [_describe_rules(saved_rules), _describe_rules(wanted_rules)]})
    if before != after or rules_changed:
        _changed_registry()
    return list(alias.routes.select_related("endpoint__provider"))


def _check_rules_keep_their_routes(rules: Sequence[RuleSpec], routes: Sequence[RouteSpec]) -> None:
    serving = {spec.endpoint.pk for spec in routes if not spec.is_shadow}
    for number, rule in enumerate(rules, start=1):
        for endpoint in rule.endpoints:
            if endpoint.pk not in serving:
                raise ValidationError(f"Routing rule {number} sends calls to {endpoint}; change or remove that "
                                      "rule first.")


@_service("alias.manage", on="alias")
def set_rules(*, actor: User | None, alias: ModelAlias, rules: Sequence[RuleSpec]) -> list[RoutingRule]:
    """Make the alias's routing rules exactly ``rules``, first first; each names routes the alias has.

    Non-empty rules need the ``rules`` strategy. Records one event when they change.
    """
    routes = [RouteSpec.of(route) for route in alias.routes.select_related("endpoint__provider")]
    saved = _saved_rules(alias)
    wanted = _clean_rules(alias, rules, routes)
    if _describe_rules(saved) != _describe_rules(wanted):
        RoutingRule.objects.filter(alias=alias).delete()
        _write_rules(alias, wanted)
        record_event(action="alias.set_rules", actor=actor, target=alias,
                     changes={"rules": [_describe_rules(saved), _describe_rules(wanted)]})
        _changed_registry()
    return list(RoutingRule.objects.filter(alias=alias).prefetch_related("targets__route__endpoint__provider"))


def _describe_route(route: Route | RouteSpec) -> str:
    if route.shadow_sample > 0:
        return f"{route.endpoint} shadow {route.shadow_sample.normalize():f}" + (
            f" variant {route.variant}" if route.variant else "")
    return f"{route.endpoint} w{route.weight} p{route.priority}" + (f" variant {route.variant}" if route.variant else "")


# --- cards -------------------------------------------------------------------------------

def clean_card_fields(fields: dict[str, Any]) -> dict[str, Any]:
    unknown = set(fields) - set(CARD_FIELDS)
    if unknown:
        raise TypeError(f"unknown card fields: {', '.join(sorted(unknown))}")
    out = dict(fields)
    for name, value in out.items():
        if name not in {"use_cases", "evaluations"}:
            out[name] = "" if value is None else str(value).strip()
    if "use_cases" in out:
        tags = out["use_cases"] or []
        if isinstance(tags, str):
            tags = [t for t in re.split(r"[,\s]+", tags) if t]
        tags = [str(t).strip().lower() for t in tags]
        bad = [t for t in tags if not _TAG.match(t)]
        if bad:
            raise ValidationError({"use_cases": f"Use-case tags are lower-case words with dashes, not {', '.join(bad)}."})
        out["use_cases"] = list(dict.fromkeys(tags))
    if "evaluations" in out:
        out["evaluations"] = [_clean_evaluation(i, e) for i, e in enumerate(out["evaluations"] or [])]
    return out


def _clean_evaluation(index: int, entry: Any) -> dict[str, Any]:
    where = f"Evaluation {index + 1}"
    if not isinstance(entry, dict):
        raise ValidationError({"evaluations": f"{where} must have name, metric, value and date."})
    missing = [k for k in ("name", "metric", "value", "date") if entry.get(k) in (None, "")]
    if missing:
        raise ValidationError({"evaluations": f"{where} lacks {', '.join(missing)}."})
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValidationError({"evaluations": f"{where}: value must be a number."}) from None
    when = entry["date"]
    try:
        when = when if isinstance(when, date) else date.fromisoformat(str(when))
    except ValueError:
        raise ValidationError({"evaluations": f"{where}: date must be YYYY-MM-DD."}) from None
    return {"name": str(entry["name"]), "metric": str(entry["metric"]),
            "value": float(value) if isinstance(value, Decimal) else value, "date": when.isoformat()}


@_service("card.edit", on="alias")
def update_card(*, actor: User | None, alias: ModelAlias, note: str = "", **fields: Any) -> ModelCard:
    """Change fields of the alias's card; saves a new version and audits the change (a no-op saves nothing)."""
    card, _ = ModelCard.objects.select_for_update().get_or_create(alias=alias)
    fields = clean_card_fields(fields)
    if "summary" in fields and not fields["summary"]:  # given, so meant to be saved: never as nothing
        raise ValidationError({"summary": "Say what the model is for: the catalogue and the card show the summary."})
    diff = _apply_fields(card, CARD_FIELDS, fields)
    if not diff:
        return card
    card.version += 1
    card.updated_by = actor
    card.full_clean()
    card.save()
    ModelCardVersion.objects.create(card=card, version=card.version, content=card.content(),
                                    changed_fields=sorted(diff), note=note[:500], created_by=actor)
    record_event(action="card.update", actor=actor, target=alias,
                 changes={"version": card.version, "note": note, **diff})
    _changed_registry()
    return card
