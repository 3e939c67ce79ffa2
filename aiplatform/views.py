"""Pages of the core: the home dashboard, a team's page, invitations, the audit log."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from aiplatform import selectors, services
from aiplatform.accounts import INVITATION_SESSION_KEY
from aiplatform.audit import record_event
from aiplatform.forms import AuditFilterForm, ChangeRoleForm, InviteMemberForm
from aiplatform.models import Membership, Tenant
from aiplatform.permissions import can, get_for_user_or_404, require


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "aiplatform/home.html", {"memberships": selectors.memberships_of_user(request.user)})


@login_required
def tenant_detail(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    may_manage = can(request.user, "tenant.manage_members", tenant)
    return render(request, "aiplatform/tenant_detail.html", {
        "tenant": tenant,
        "members": selectors.members_of_tenant(tenant, viewer=request.user),
        "invitations": selectors.open_invitations_of_tenant(tenant, viewer=request.user) if may_manage else [],
        "may_manage": may_manage,
        "invite_form": InviteMemberForm(),
        "role_form": ChangeRoleForm(),
    })


@login_required
@require_POST
def tenant_invite(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    form = InviteMemberForm(request.POST)
    if form.is_valid():
        try:
            services.invite_member(actor=request.user, tenant=tenant, **form.cleaned_data)
            messages.success(request, f"Invitation sent to {form.cleaned_data['email']}.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    else:
        messages.error(request, "Give a valid e-mail address and role.")
    return redirect("tenant_detail", slug=tenant.slug)


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


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    if not selectors.may_read_audit(request.user):
        require(request.user, "audit.view")  # audits the refusal and raises
    form = AuditFilterForm(request.GET or None)
    prefix = form.cleaned_data["action"] if form.is_valid() else ""
    events = selectors.audit_events_for(request.user, action_prefix=prefix)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "aiplatform/audit_log.html", {"page": page, "form": form})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """Forged or stale form posts: say so plainly, and keep a record."""
    record_event(action="security.csrf_failure", actor=request.user if request.user.is_authenticated else None,
                 actor_label=None if request.user.is_authenticated else "anonymous",
                 changes={"path": request.path, "reason": reason})
    return render(request, "403_csrf.html", {"reason": reason}, status=403)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if isinstance(exception, PermissionDenied) and str(exception) else ""
    return render(request, "403.html", {"message": message}, status=403)
