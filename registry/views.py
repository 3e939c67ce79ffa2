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
from registry.forms import AliasForm, CardForm, CatalogueFilterForm, EndpointForm, ProviderForm, RouteForm
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
        "may_manage": show_drafts, "owned": selectors.aliases_owned_by(request.user),
    })


@login_required
def model_card(request: HttpRequest, name: str) -> HttpResponse:
    alias = _alias_or_404(request, name)
    entry = selectors.catalogue_entry(alias)
    return render(request, "registry/card.html", {
        "alias": alias, "entry": entry, "card": entry.card,
        "routes": sorted(alias.routes.all(), key=lambda r: (r.priority, -r.weight, r.pk)),
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
                   "owners": list(alias.owners.all())}
    form = AliasForm(request.POST or None, initial=initial)
    if alias is not None:
        form.fields["name"].disabled = True
        form.fields["replacement"].queryset = ModelAlias.objects.exclude(pk=alias.pk).order_by("name")
    if request.method == "POST" and form.is_valid():
        fields = dict(form.cleaned_data)
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
    routes = alias.routes.select_related("endpoint__provider").order_by("priority", "-weight") if alias else []
    return render(request, "registry/alias_form.html", {
        "form": form, "alias": alias, "routes": routes, "route_form": RouteForm(),
    })


@login_required
@require_POST
def route_add(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    form = RouteForm(request.POST)
    if form.is_valid():
        current = [services.RouteSpec(r.endpoint, r.weight, r.priority)
                   for r in alias.routes.select_related("endpoint") if r.endpoint != form.cleaned_data["endpoint"]]
        try:
            services.set_routes(actor=request.user, alias=alias,
                                routes=[*current, services.RouteSpec(**form.cleaned_data)])
            messages.success(request, "Route saved.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Choose an endpoint, a weight and a priority.")
    return redirect("registry:alias_edit", name=alias.name)


@login_required
@require_POST
def route_remove(request: HttpRequest, name: str, endpoint_id: int) -> HttpResponse:
    require(request.user, "alias.manage")
    alias = get_object_or_404(ModelAlias, name=name)
    remaining = [services.RouteSpec(r.endpoint, r.weight, r.priority)
                 for r in alias.routes.select_related("endpoint") if r.endpoint_id != endpoint_id]
    services.set_routes(actor=request.user, alias=alias, routes=remaining)
    messages.success(request, "Route removed.")
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
