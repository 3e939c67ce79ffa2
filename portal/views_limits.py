"""Pages of plans and limits: the plans (platform admins), an application's plan and limits, a team's caps and a
model's cap across all callers.

Every change goes through ``portal.services.limits`` (permission, audit, the ``keys`` config version, so the
gateways reload within a second). An application's and a team's limits are also shown to its members, read-only,
in a fragment the application and team pages load with htmx (``request.htmx``); without JavaScript the same
fragment is a page of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from aiplatform.forms import add_service_errors
from aiplatform.models import Tenant
from aiplatform.permissions import can, get_for_user_or_404, require
from portal import limits_selectors as limits
from portal import services
from portal.forms_limits import ApplicationLimitsForm, ModelCapForm, NewPlanForm, PlanForm, TeamCapsForm
from portal.models import Application, LimitLevel, LimitSettings, Plan
from portal.templatetags.usage_format import dollars
from registry.models import ModelAlias

COUNTERS_KEPT = ("Counters are kept when limits change: what was used in the current minute, day and month "
                 "still counts against the new values.")

LABELS = {
    "requests_per_minute": "Requests per minute", "tokens_per_minute": "Tokens per minute",
    "max_concurrency": "Concurrent calls", "burst": "Burst", "tokens_per_day": "Token budget per day",
    "tokens_per_month": "Token budget per month", "cost_per_day": "Cost budget per day",
    "cost_per_month": "Cost budget per month", "budget_mode": "Budget mode",
    "redis_failure": "When Redis is unreachable", "shadow": "Shadow mode",
}


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One limit as a page shows it: set on the thing itself, and its plan's ("—": not set)."""

    label: str
    own: str
    plan: str


def _shown(value) -> str:
    if value is None or value == "" or value is False:
        return "—"
    if value is True:
        return "on"
    if isinstance(value, Decimal):
        return dollars(value)
    if isinstance(value, int):
        return intcomma(value)
    return value.replace("_", " ")


def limit_rows(own: LimitSettings, plan: Plan | None = None) -> list[LimitRow]:
    """Every limit, as set on ``own``'s owner and in ``plan``."""
    return [LimitRow(label, _shown(getattr(own, name)), _shown(getattr(plan, name, None)))
            for name, label in LABELS.items()]


def _render(request: HttpRequest, template: str, context: dict, *, invalid: bool = False) -> HttpResponse:
    """The page, or (an htmx request) its fragment alone; ``invalid`` answers 400."""
    fragment = request.htmx and request.method == "GET"
    response = render(request, f"portal/limits/{'_' if fragment else ''}{template}",
                      {**context, "counters_kept": COUNTERS_KEPT}, status=400 if invalid else 200)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- plans ----------------------------------------------------------------------------------------

@login_required
def plans(request: HttpRequest) -> HttpResponse:
    """Every plan with its limits and what follows it, the model caps, and a new plan (POST). Platform admins."""
    require(request.user, "limits.manage")
    form = NewPlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.create_plan(actor=request.user, **form.plan_values())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Plan {plan.name} is created. Applications, subscriptions and keys may "
                                      "follow it now.")
            return redirect("portal:plans")
    return render(request, "portal/limits/plans.html", {
        "rows": limits.plans_with_followers(viewer=request.user), "form": form,
        "default_plan": settings.DEFAULT_PLAN, "default_exists": limits.plan_named(settings.DEFAULT_PLAN) is not None,
        "model_caps": limits.model_caps(), "counters_kept": COUNTERS_KEPT,
    }, status=400 if request.method == "POST" else 200)


@login_required
def plan_edit(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "limits.manage")
    plan = limits.plan_named(name)
    if plan is None:
        raise Http404("No such plan.")
    form = PlanForm(request.POST or None, instance=plan)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_plan(actor=request.user, plan=plan, values=form.plan_values())
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Plan {plan.name} is saved; the gateways apply it within a second. "
                                      "Counters are kept.")
            return redirect("portal:plans")
    return render(request, "portal/limits/plan_form.html", {"plan": plan, "form": form,
                                                           "counters_kept": COUNTERS_KEPT},
                  status=400 if request.method == "POST" else 200)


# --- an application, a team, a model --------------------------------------------------------------

def _save_limits(request: HttpRequest, form, owner, done: str) -> bool:
    """Save a valid posted limits form through ``set_limits``; False: render the form again (not posted,
    invalid, or refused by the service, whose errors are then on the form)."""
    if request.method != "POST" or form is None or not form.is_valid():
        return False
    try:
        services.set_limits(actor=request.user, owner=owner, values=form.limit_values())
    except ValidationError as exc:
        add_service_errors(form, exc)
        return False
    messages.success(request, done)
    return True

@login_required
def application_limits(request: HttpRequest, pk: int) -> HttpResponse:
    """The application's plan in force and own limits (its members); platform admins change them."""
    app = get_for_user_or_404(Application.objects.select_related("tenant"), request.user, pk=pk)
    current = limits.settings_of(LimitLevel.APPLICATION, app)
    plan = limits.plan_in_force(current)
    may_manage = can(request.user, "limits.manage", app)
    if request.method == "POST":
        require(request.user, "limits.manage", app)
    form = ApplicationLimitsForm(request.POST or None, instance=current) if may_manage else None
    if _save_limits(request, form, app, f"The plan and limits of {app.name} are saved. Counters are kept."):
        return redirect("portal:application", app.pk)
    return _render(request, "application.html", {
        "app": app, "tenant": app.tenant, "limits": current, "plan": plan,
        "rows": limit_rows(current, plan), "default_plan": settings.DEFAULT_PLAN, "form": form,
    }, invalid=request.method == "POST")


@login_required
def team_caps(request: HttpRequest, slug: str) -> HttpResponse:
    """The team's caps, above all its applications (its members read them); platform admins change them."""
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    current = limits.settings_of(LimitLevel.TENANT, tenant)
    may_manage = can(request.user, "limits.manage", tenant)
    if request.method == "POST":
        require(request.user, "limits.manage", tenant)
    form = TeamCapsForm(request.POST or None, instance=current) if may_manage else None
    if _save_limits(request, form, tenant, f"The caps of {tenant.name} are saved. Counters are kept."):
        return redirect("tenant_detail", tenant.slug)
    return _render(request, "team.html", {"tenant": tenant, "limits": current, "rows": limit_rows(current),
                                          "form": form}, invalid=request.method == "POST")


@login_required
def model_cap(request: HttpRequest, name: str) -> HttpResponse:
    """A model's cap across every caller (its endpoints' capacity). Platform admins."""
    require(request.user, "limits.manage")
    alias = ModelAlias.objects.filter(name=name).first()
    if alias is None:
        raise Http404("No such model.")
    form = ModelCapForm(request.POST or None, instance=limits.settings_of(LimitLevel.ALIAS, alias))
    if _save_limits(request, form, alias, f"The cap of {alias.name} is saved. Counters are kept."):
        return redirect("portal:plans")
    return render(request, "portal/limits/model_cap.html", {"alias": alias, "form": form,
                                                           "counters_kept": COUNTERS_KEPT},
                  status=400 if request.method == "POST" else 200)
