"""The team page, at /teams/<slug>/: its members and invitations, its applications, dedicated hosting and caps.

One page for everything about a team. Members and invitations are the core's (``aiplatform``
services and selectors); the page lives here because the portal may read the core, not the other
way round. Changing a member's role or removing one stay the core's views; they come back here.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aiplatform import selectors as core_selectors
from aiplatform import services as core_services
from aiplatform.forms import InviteMemberForm, add_service_errors
from aiplatform.models import Tenant
from aiplatform.permissions import can, get_for_user_or_404, require
from aiplatform.roles import TenantRole
from portal import selectors, services
from portal.forms import ApplicationForm


def team_page(request: HttpRequest, tenant: Tenant, *, form: ApplicationForm | None = None,
              invite_form: InviteMemberForm | None = None, status: int = 200) -> HttpResponse:
    """Render the team page; a form given back (with its errors) replaces the empty one."""
    may_manage_members = can(request.user, "tenant.manage_members", tenant)
    return render(request, "portal/team.html", {
        "tenant": tenant,
        "members": core_selectors.members_of_tenant(tenant, viewer=request.user),
        "invitations": (core_selectors.open_invitations_of_tenant(tenant, viewer=request.user)
                        if may_manage_members else []),
        "may_manage_members": may_manage_members,
        "invite_form": invite_form or InviteMemberForm(),
        "roles": TenantRole.choices,
        "applications": selectors.with_counts(selectors.applications_of(tenant, viewer=request.user)),
        "form": form or ApplicationForm(),
        "may_manage": can(request.user, "application.manage", tenant),
        "hosting_requests": selectors.hosting_requests_for(request.user).filter(tenant=tenant),
    }, status=status)


@login_required
def team(request: HttpRequest, slug: str) -> HttpResponse:
    return team_page(request, get_for_user_or_404(Tenant.objects, request.user, slug=slug))


@login_required
@require_POST
def application_create(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    form = ApplicationForm(request.POST)
    if form.is_valid():
        try:
            app = services.create_application(actor=request.user, tenant=tenant, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"{app.name} is registered. Next: request access to a model.")
            return redirect("portal:application", app.pk)
    return team_page(request, tenant, form=form, status=400)


@login_required
@require_POST
def member_invite(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    require(request.user, "tenant.manage_members", tenant)  # a viewer gets the refusal, not a form error
    form = InviteMemberForm(request.POST)
    if form.is_valid():
        try:
            core_services.invite_member(actor=request.user, tenant=tenant, **form.cleaned_data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
            return redirect("tenant_detail", slug=tenant.slug)
    return team_page(request, tenant, invite_form=form, status=400)
