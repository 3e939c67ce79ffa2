"""Pages of the core: creating a team, its members' roles, invitations, the audit log. (The team page and
the home page show the portal's applications too, so they are the portal's: ``portal/views_team.py``,
``portal/views_home.py``.)"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.views.decorators.http import require_POST

from aiplatform import selectors, services
from aiplatform.accounts import INVITATION_SESSION_KEY
from aiplatform.audit import record_event
from aiplatform.audit_diff import change_lines
from aiplatform.forms import AuditFilterForm, ChangeRoleForm, CreateTeamForm, add_service_errors
from aiplatform.models import Membership
from aiplatform.permissions import get_for_user_or_404, require


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says; send them to the SVG icon."""
    return redirect(static("favicon.svg"), permanent=True)


@login_required
def tenant_new(request: HttpRequest) -> HttpResponse:
    """Platform admins create a team and name its owner (someone with an account; by default themselves)."""
    require(request.user, "tenant.create")  # audits the refusal and raises
    form = CreateTeamForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        owner_email = data.pop("owner")
        owner = selectors.active_user_by_email(owner_email) if owner_email else request.user
        if owner is None:
            form.add_error("owner", "No one has an account with this address. Leave it empty to own the team "
                                    "yourself, then invite them as owner from the team page.")
        else:
            try:
                tenant = services.create_tenant(actor=request.user, owner=owner, **data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"{tenant.name} is created; {owner.email} owns it. "
                                          "Next: invite its members.")
                return redirect("tenant_detail", slug=tenant.slug)
    return render(request, "aiplatform/tenant_new.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def membership_change_role(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    membership = get_for_user_or_404(Membership.objects, request.user, pk=membership_id, tenant__slug=slug)
    form = ChangeRoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_member_role(actor=request.user, membership=membership, role=form.cleaned_data["role"])
            messages.success(request, f"{membership.user.email} is now {membership.get_role_display()}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("tenant_detail", slug=slug)


@login_required
@require_POST
def membership_remove(request: HttpRequest, slug: str, membership_id: int) -> HttpResponse:
    membership = get_for_user_or_404(Membership.objects, request.user, pk=membership_id, tenant__slug=slug)
    try:
        services.remove_member(actor=request.user, membership=membership)
        messages.success(request, f"{membership.user.email} was removed.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("tenant_detail", slug=slug)


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    invitation = selectors.invitation_by_token(token)
    if invitation is None or not invitation.is_open:
        record_event(action="security.invitation_invalid", actor=request.user if request.user.is_authenticated else None,
                     actor_label=None if request.user.is_authenticated else "anonymous")
        return render(request, "aiplatform/invitation_invalid.html", status=404)
    if not request.user.is_authenticated:
        # Remember it so that sign-up is open to this address; come back here after.
        request.session[INVITATION_SESSION_KEY] = token
        return render(request, "aiplatform/invitation.html", {"invitation": invitation})
    if request.method == "POST":
        try:
            membership = services.accept_invitation(invitation=invitation, user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("home")
        request.session.pop(INVITATION_SESSION_KEY, None)
        messages.success(request, f"You joined {membership.tenant.name}.")
        return redirect("tenant_detail", slug=membership.tenant.slug)
    return render(request, "aiplatform/invitation.html", {"invitation": invitation})


AUDIT_PAGE_SIZE = 50


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not selectors.may_read_audit(request.user):
        require(request.user, "audit.view")  # audits the refusal and raises
    form = AuditFilterForm(request.GET or None, tenants=selectors.audit_tenants_for(request.user))
    filters = form.cleaned_data if form.is_valid() else {}
    events = selectors.audit_events_for(
        request.user, tenant=filters.get("tenant"), action_prefix=filters.get("action", ""),
        actor=filters.get("actor", ""), since=filters.get("since"), until=filters.get("until"))
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page.object_list:
        event.change_lines = change_lines(event.changes, action=event.action)
    kept = request.GET.copy()
    kept.pop("page", None)
    return render(request, "aiplatform/audit_log.html", {"page": page, "form": form, "filters": kept.urlencode()})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Forged or stale form posts: say so plainly, and keep a record."""
    record_event(action="security.csrf_failure", actor=request.user if request.user.is_authenticated else None,
                 actor_label=None if request.user.is_authenticated else "anonymous",
                 changes={"path": request.path, "reason": reason})
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    return render(request, "403.html", {"message": message}, status=403)
