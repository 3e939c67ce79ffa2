"""The A/B comparison of an alias's variants, for its model owners and platform admins.

The figures are ``portal.selectors_variants``: every team's calls of the alias in the period, per variant
(the route label each usage event records), with the alias's current routing for context.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from aiplatform.permissions import require
from portal import selectors_variants as selectors
from registry.models import ModelAlias


class VariantPeriodForm(forms.Form):
    """Which period the comparison covers: one of ``selectors_variants.PERIODS``."""

    period = forms.ChoiceField(label="Period", choices=[(p.value, p.label) for p in selectors.PERIODS])


@login_required
@require_GET
def variant_comparison(request: HttpRequest, alias: str) -> HttpResponse:
    """The alias's variants side by side over a period (default the last 7 days); 403 for anyone but its owners
    and platform admins (audited), 404 for an unknown alias, 400 for an unknown period."""
    model = get_object_or_404(ModelAlias.objects.select_related("replacement"), name=alias)
    require(request.user, "variants.compare", model)
    form = VariantPeriodForm(request.GET or {"period": selectors.DEFAULT_PERIOD})
    if not form.is_valid():
        return render(request, "portal/variants.html", {"alias": model, "form": form}, status=400)
    period = selectors.period_ending_now(form.cleaned_data["period"])
    return render(request, "portal/variants.html", {
        "alias": model, "form": form, "comparison": selectors.variant_comparison(model, period),
        "min_calls": selectors.MIN_CALLS,
    })
