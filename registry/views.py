"""Pages of the registry: the catalogue and model cards for everyone; management for admins and owners."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from aiplatform.forms import add_service_errors
from aiplatform.permissions import can, require
from registry import selectors, services
from registry.forms import AliasForm, CardForm, CatalogueFilterForm, EndpointForm, ProviderForm, RouteForm, RuleForm
from registry.models import Endpoint, ModelAlias, Provider, UpstreamModel
from registry.secrets import describe_reference, local_secret_problem
from registry.sync import CatalogueUnavailable, dismiss_candidate, sync_provider_catalogue


def _alias_or_404(request: HttpRequest, name: str) -> ModelAlias:
    alias = selectors.alias_for_user(request.user, name)
    if alias is None:
        raise Http404("No such model.")
    return alias


# --- everyone ---------------------------------------------------------------------------------

@login_required
def catalogue(request: HttpRequest) -> HttpResponse:
    show_drafts = can(request.user, "alias.manage")
    form = CatalogueFilterForm(request.GET or None, use_cases=selectors.use_case_tags(),
                               providers=list(selectors.providers().values_list("name", flat=True)),
                               show_drafts=show_drafts)
    # Visibility is the selector's business; the form only renders the filters.
    filters = selectors.CatalogueFilters.from_params(request.GET)
    entries = selectors.catalogue(request.user, filters)
    template = "registry/_catalogue_results.html" if request.htmx else "registry/catalogue.html"
    return render(request, template, {
        "form": form, "entries": entries, "filtered": any(v for v in request.GET.values()),
        "use_case": filters.use_case,  # the catalogue then shows that use case's measured ranking
        "may_manage": show_drafts, "owned": selectors.aliases_owned_by(request.user),
    })


@login_required
def model_card(request: HttpRequest, name: str) -> HttpResponse:
    alias = _alias_or_404(request, name)
    entry = selectors.catalogue_entry(alias)
    return render(request, "registry/card.html", {
        "alias": alias, "entry": entry, "card": entry.card,
        # Shadow routes never answer the card's readers: they are the admins' business (the alias's page).
        "routes": sorted((r for r in alias.routes.all() if not r.is_shadow), key=lambda r: (r.priority, -r.weight, r.pk)),
        "versions": selectors.card_versions(alias)[:20],
        "may_edit": can(request.user, "card.edit", alias), "may_manage": can(request.user, "alias.manage"),
    })


@login_required
def edit_card(request: HttpRequest, name: str) -> HttpResponse:
    alias = _alias_or_404(request, name)
    require(request.user, "card.edit", alias)
    form = CardForm(request.POST or None, initial=CardForm.initial_from(alias.card))
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        note = fields.pop("note")
        try:
            services.update_card(actor=request.user, alias=alias, note=note, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"The card of {alias.name} was saved.")
            return redirect("registry:card", name=alias.name)
    return render(request, "registry/card_form.html", {"alias": alias, "form": form},
                  status=400 if request.method == "POST" else 200)


# --- platform admins --------------------------------------------------------------------------

@login_required
def manage(request: HttpRequest) -> HttpResponse:
    require(request.user, "alias.manage")
    candidates = selectors.onboarding_candidates()
    return render(request, "registry/manage.html", {
        "providers": [(p, describe_reference(p.api_key), local_secret_problem(p.api_key))
                      for p in selectors.providers()],
        "endpoints": selectors.endpoints(),
        "aliases": ModelAlias.objects.select_related("replacement").prefetch_related("routes").order_by("name"),
        "candidates": candidates,
    })


@login_required
def provider_form(request: HttpRequest, name: str | None = None) -> HttpResponse:
    require(request.user, "provider.manage")
    provider = get_object_or_404(Provider, name=name) if name else None
    initial = {}
    if provider is not None:
        initial = {"name": provider.name, "kind": provider.kind, "base_url": provider.base_url,
                   "region": provider.region, "api_key": provider.api_key if not provider.api_key.startswith("enc:")
                   else "", "config": provider.config or "", "is_active": provider.is_active}
    form = ProviderForm(request.POST or None, initial=initial or None)
    if provider is not None:
        form.fields["name"].disabled = True
        form.fields["name"].required = False
    if request.method == "POST" and form.is_valid():
        fields = form.service_fields()
        try:
            if provider is None:
                provider = services.create_provider(actor=request.user, **fields)
            else:
                fields.pop("name", None)
                if not fields["api_key"] and provider.api_key.startswith("enc:"):
                    fields.pop("api_key")  # the encrypted key is kept unless replaced
                services.update_provider(actor=request.user, provider=provider, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Provider {provider.name} saved.")
            return redirect("registry:manage")
    return render(request, "registry/provider_form.html", {
        "form": form, "provider": provider,
        "credential": describe_reference(provider.api_key) if provider else "",
    })


@login_required
def endpoint_form(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    require(request.user, "endpoint.manage")
    endpoint = get_object_or_404(Endpoint.objects.select_related("provider"), pk=pk) if pk else None
    initial = None
    if endpoint is not None:
        initial = {f: getattr(endpoint, f) for f in ("upstream_model", *services.ENDPOINT_FIELDS)}
        initial["provider"] = endpoint.provider.name
    form = EndpointForm(request.POST or None, initial=initial)
    if endpoint is not None:
        for field in ("provider", "upstream_model"):
            form.fields[field].disabled = True
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        provider, upstream = fields.pop("provider"), fields.pop("upstream_model")
        try:
            if endpoint is None:
                endpoint = services.create_endpoint(actor=request.user, provider=provider, upstream_model=upstream,
                                                    **fields)
            else:
                services.update_endpoint(actor=request.user, endpoint=endpoint, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Endpoint {endpoint} saved.")
            return redirect("registry:manage")
    return render(request, "registry/endpoint_form.html", {"form": form, "endpoint": endpoint})


@login_required
def alias_form(request: HttpRequest, name: str | None = None) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name) if name else None
    initial = None
    if alias is not None:
        initial = {"name": alias.name, "kind": alias.kind, "status": alias.status, "sunset_on": alias.sunset_on,
                   "replacement": alias.replacement.name if alias.replacement_id else None,
                   "owners": list(alias.owners.all()), "strategy": alias.strategy, "sticky": alias.sticky}
    form = AliasForm(request.POST or None, initial=initial)
    if alias is not None:
        form.fields["name"].disabled = True
        form.fields["replacement"].queryset = ModelAlias.objects.exclude(pk=alias.pk).order_by("name")
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
        if not fields["strategy"]:
            fields.pop("strategy")  # not given: the default, or the alias's own
        try:
            if alias is None:
                alias = services.create_alias(actor=request.user, **fields)
            else:
                fields.pop("name")
                services.update_alias(actor=request.user, alias=alias, **fields)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Model {alias.name} saved.")
            return redirect("registry:alias_edit", name=alias.name)
        if alias is not None:
            alias.refresh_from_db()  # the page shows what is saved, not the refused values
    return _alias_page(request, alias, form=form, status=400 if request.method == "POST" else 200)


def _alias_page(request: HttpRequest, alias: ModelAlias | None, *, form: AliasForm | None = None,
                route_form: RouteForm | None = None, rule_form: RuleForm | None = None,
                status: int = 200) -> HttpResponse:
    """The alias's page: its settings, routes and routing rules, with whichever form was refused bound."""
    if form is None:
        form = AliasForm(initial={"name": alias.name, "kind": alias.kind, "status": alias.status,
                                  "sunset_on": alias.sunset_on, "owners": list(alias.owners.all()),
                                  "replacement": alias.replacement.name if alias.replacement_id else None,
                                  "strategy": alias.strategy, "sticky": alias.sticky})
        form.fields["name"].disabled = True
    routes = sorted(alias.routes.select_related("endpoint__provider"),
                    key=lambda r: (r.is_shadow, r.priority, -r.weight, r.pk)) if alias else []
    return render(request, "registry/alias_form.html", {
        "form": form, "alias": alias, "routes": routes, "route_form": route_form or RouteForm(),
        "rules": list(selectors.routing_rules(alias)) if alias else [],
        "rule_form": rule_form or (RuleForm(routes=routes) if alias else None),
    }, status=status)


@login_required
@require_POST
def route_add(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    form = RouteForm(request.POST)
    if form.is_valid():
        wanted = services.RouteSpec(**form.cleaned_data)
        current = [services.RouteSpec.of(r) for r in alias.routes.select_related("endpoint")
                   if r.endpoint != wanted.endpoint]
        try:
            services.set_routes(actor=request.user, alias=alias, routes=[*current, wanted])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Route saved.")
            return redirect("registry:alias_edit", name=alias.name)
    return _alias_page(request, alias, route_form=form, status=400)


@login_required
@require_POST
def route_remove(request: HttpRequest, name: str, endpoint_id: int) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    remaining = [services.RouteSpec.of(r) for r in alias.routes.select_related("endpoint")
                 if r.endpoint_id != endpoint_id]
    try:
        services.set_routes(actor=request.user, alias=alias, routes=remaining)
    except ValidationError as exc:  # a rule still names it, or it was the last serving route
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Route removed.")
    return redirect("registry:alias_edit", name=alias.name)


@login_required
@require_POST
def rule_add(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    form = RuleForm(request.POST, routes=list(alias.routes.select_related("endpoint__provider")))
    if form.is_valid():
        rules = [services.RuleSpec.of(rule) for rule in selectors.routing_rules(alias)]
        place = form.cleaned_data["position"] or len(rules) + 1
        rules.insert(place - 1, form.rule_spec())
        try:
            services.set_rules(actor=request.user, alias=alias, rules=rules)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Rule saved.")
            return redirect("registry:alias_edit", name=alias.name)
    return _alias_page(request, alias, rule_form=form, status=400)


@login_required
@require_POST
def rule_remove(request: HttpRequest, name: str, position: int) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    rules = list(selectors.routing_rules(alias))
    remaining = [services.RuleSpec.of(rule) for rule in rules if rule.position != position]
    if len(remaining) == len(rules):
        raise Http404("No such rule.")
    services.set_rules(actor=request.user, alias=alias, rules=remaining)
    messages.success(request, "Rule removed.")
    return redirect("registry:alias_edit", name=alias.name)


@login_required
@require_POST
def provider_sync(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "catalogue.sync")
    provider = get_object_or_404(Provider, name=name)
    try:
        result = sync_provider_catalogue(actor=request.user, provider=provider)
        messages.success(request, f"{provider.name}: {result.listed} listed, {len(result.new)} new, "
                                  f"{len(result.vanished)} vanished.")
    except CatalogueUnavailable as exc:
        messages.error(request, str(exc))
    return redirect("registry:manage")


@login_required
@require_POST
def candidate_dismiss(request: HttpRequest, pk: int) -> HttpResponse:
    require(request.user, "catalogue.sync")
    dismiss_candidate(actor=request.user, upstream_model=get_object_or_404(UpstreamModel, pk=pk))
    return redirect("registry:manage")
