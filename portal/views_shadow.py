"""The shadow traffic page: an alias's primary answers beside its shadow routes', for its owners.

Per alias and shadow endpoint the figures side by side (calls, the shadow's error rate, mean latency,
tokens, cost), what the shadows cost the platform, and the latest pairs of answers, paged. Model owners see
the aliases they own, platform admins every alias (``shadow.view``); each across every team's calls.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from aiplatform.permissions import require
from portal import selectors_shadow as selectors
from registry.models import ModelAlias

PAGE_SIZE = 20


@login_required
@require_GET
def shadow_comparison(request: HttpRequest) -> HttpResponse:
    """The comparison over the last ``WINDOW_DAYS`` days, of every alias the person reads or of ``?alias=``."""
    require(request.user, "shadow.view")  # model owners and platform admins; others: 403, audited
    alias = request.GET.get("alias", "")[:100]
    if alias:
        model = ModelAlias.objects.filter(name=alias).first()
        if model is None:
            raise Http404("No such model.")
        require(request.user, "shadow.view", model)  # an owner of other models: 403, audited
    window = selectors.recent_window()
    results = selectors.shadow_results_for(request.user, alias=alias, period=window)
    figures = selectors.shadow_figures(results)
    page = Paginator(results, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "portal/shadow.html", {
        "alias": alias, "aliases": list(selectors.comparable_aliases(request.user).values_list("name", flat=True)),
        "window_days": selectors.WINDOW_DAYS, "figures": figures, "page": page,
        "shadow_cost": sum((f.shadow_cost for f in figures), Decimal(0)),
        "primary_cost": sum((f.primary_cost for f in figures), Decimal(0)),
    })
