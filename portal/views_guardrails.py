"""Guardrails pages: the auditors' dashboard of decisions, a call's payload record, and the dry-run.

- ``/portal/guardrails/``: which rules fire most (policy · stage · detector · action), per day, and the latest
  blocked calls, filtered by period, team, model and action. Platform auditors and admins read every team's
  decisions, a team's admins their team's (``portal.selectors_guardrails``).
- ``/portal/guardrails/payloads/<request id>/``: the text a tenant's payload logging kept of one call, for
  platform auditors only; every reading is audited (``guardrail.payload_viewed``).
- ``/portal/guardrails/dry-run/``: paste a text, pick a policy (or paste a document), see what each detector
  finds, what would go upstream and what the caller would get back. For platform admins, auditors and
  team developers (and up); the text is shown back and never kept. The form posts with htmx and the result
  replaces its panel; without JavaScript the same form posts and renders the whole page.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_http_methods

from aiplatform.audit import record_event
from aiplatform.permissions import require
from portal import dry_run
from portal import selectors_guardrails as selectors
from portal.forms_guardrails import DryRunForm, GuardrailFilterForm
from portal.permissions import may_dry_run, may_view_guardrails


@login_required
@require_GET
def guardrails_dashboard(request: HttpRequest) -> HttpResponse:
    """The decisions the viewer reads in the filters' period: top rules, per day, the latest blocks."""
    if not may_view_guardrails(request.user):
        require(request.user, "guardrails.view")  # audits the refusal and raises
    tenants = selectors.guardrail_tenants(request.user)
    form = GuardrailFilterForm(request.GET or None, tenants=tenants)
    if form.is_bound and not form.is_valid():
        return render(request, "portal/guardrails.html", {"form": form}, status=400)
    filters = form.filters() if form.is_bound else selectors.GuardFilters()
    scope = selectors.decisions_for(request.user)
    decisions = selectors.filtered(scope, filters)
    rules = selectors.top_rules(decisions)
    days = selectors.per_day(decisions, filters)
    blocked = selectors.latest_blocked(decisions)
    auditor = request.user.is_auditor
    return render(request, "portal/guardrails.html", {
        "form": form, "filters": filters, "rules": rules, "days": days, "blocked": blocked,
        "most_in_a_day": max([d.total for d in days] + [1]), "aliases": selectors.aliases_in(scope),
        "total": sum(r.count for r in rules), "calls": sum(d.calls for d in days),
        "payloads": selectors.payload_ids([d.request_id for d in blocked]) if auditor else set(),
    })


@login_required
@require_GET
def payload_record(request: HttpRequest, request_id: str) -> HttpResponse:
    """One call's payload record and decisions, for platform auditors; the reading is audited."""
    require(request.user, "payload.view")
    record = selectors.payload_record_for(request.user, request_id[:128])
    if record is None:
        raise Http404("No payload was kept for this call.")
    record_event(action="guardrail.payload_viewed", actor=request.user, target=record,
                 changes={"request_id": record.request_id, "mode": record.mode})
    response = render(request, "portal/guardrails_payload.html", {
        "record": record, "decisions": selectors.decisions_of_call(request.user, record.request_id)})
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def dry_run_page(request: HttpRequest) -> HttpResponse:
    """The dry-run form; posted, the report (the panel alone when htmx posted it)."""
    if not may_dry_run(request.user):
        require(request.user, "guardrails.dry_run")  # audits the refusal and raises
    form = DryRunForm(request.POST or None, user=request.user, initial={"policy": request.GET.get("policy", "")})
    report = dry_run.run(form.spec, form.cleaned_data["text"]) if form.is_bound and form.is_valid() else None
    context = {"form": form, "report": report, "policies": form.policies}
    template = "portal/guardrails_dry_run_panel.html" if request.htmx else "portal/guardrails_dry_run.html"
    # htmx swaps 2xx answers only: the panel with the form's errors comes back as a 200 to it.
    status = 400 if form.is_bound and not form.is_valid() and not request.htmx else 200
    response = render(request, template, context, status=status)
    response["Cache-Control"] = "no-store"  # the pasted text is in the page
    return response
