"""Pages of the portal: a team's applications, subscriptions and keys; approvers' queues; access tokens.

Views parse a form, call one service or selector, and render. Tenant objects are fetched with
``get_for_user_or_404``. A new secret follows post/redirect/get: the POST that made it keeps it in
the session (``portal.shown_once``) and redirects to the one page that shows it and drops it, so a
reload shows nothing and never makes a second key; it is never put in a message or a URL.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from aiplatform.forms import add_service_errors, error_text
from aiplatform.models import Tenant
from aiplatform.permissions import can, get_for_user_or_404, require
from aiplatform.selectors import tenants_for_user
from portal import selectors, services, shown_once, usage_selectors
from portal.forms import (
    AccessTokenForm,
    AutoApprovalRuleForm,
    DecisionForm,
    HostingDecisionForm,
    HostingRequestForm,
    IpAllowlistForm,
    KeyForm,
    LimitsForm,
    ReasonForm,
    RotateForm,
    SubscriptionRequestForm,
)
from portal.models import (
    ApiKey,
    Application,
    AutoApprovalRule,
    HostingRequest,
    Subscription,
    SubscriptionStatus,
)
from portal.services.limits import SETTABLE
from portal.services.transitions import refuse_own_request


def _say(request: HttpRequest, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


def _form_errors(request: HttpRequest, form) -> None:
    """A form posted from a table row (no fields of its own to show errors beside): every error in one banner."""
    messages.error(request, error_text(form))


@contextmanager
def _with_limits(request: HttpRequest, obj, values: dict, *actions: str):
    """One transaction for a service call and the ``set_limits`` after it, when there are limits to set.

    The permissions are checked first, outside it: a refusal's audit row written inside would be rolled back.
    """
    if not values:
        yield
        return
    for action in (*actions, "limits.narrow"):
        require(request.user, action, obj)
    with transaction.atomic():
        yield


def _names_a_limit(exc: ValidationError) -> bool:
    """Whether ``set_limits`` refused it (its errors name limit fields), not the key or subscription service."""
    return hasattr(exc, "error_dict") and bool(set(exc.error_dict) & {*SETTABLE, "plan"})


def _secret_page(request: HttpRequest, context: dict) -> HttpResponse:
    response = render(request, "portal/secret_shown_once.html", context)
    response["Cache-Control"] = "no-store"
    return response


def _show_key_once(request: HttpRequest, key: ApiKey, secret: str, **extra) -> HttpResponse:
    shown_once.keep(request, kind="key", pk=key.pk, secret=secret, **extra)
    return redirect("portal:key_secret", key.pk)


# --- a team's pages -------------------------------------------------------------------------------

@login_required
def index(request: HttpRequest) -> HttpResponse:
    is_approver = selectors.is_approver(request.user)
    return render(request, "portal/index.html", {
        "tenants": tenants_for_user(request.user), "is_approver": is_approver,
        "queue_size": selectors.approval_queue(request.user).count() if is_approver else 0,
    })


def _application_page(request: HttpRequest, app: Application, **extra) -> HttpResponse:
    invalid = extra.pop("invalid", False)
    return render(request, "portal/application.html", {
        "app": app, "tenant": app.tenant,
        "subscriptions": selectors.subscriptions_of(app, viewer=request.user),
        "keys": selectors.keys_of(app, viewer=request.user).select_related("replaced_by"),
        "may_manage": can(request.user, "key.manage", app),
        # ?alias= comes from a model card's "Request access": the form opens with that model chosen.
        "request_form": extra.pop("request_form", SubscriptionRequestForm(
            initial={"alias": request.GET.get("alias", "")[:100]} if request.method == "GET" else None)),
        "request_limits_form": extra.pop("request_limits_form", LimitsForm(prefix="sub")),
        "key_form": extra.pop("key_form", KeyForm()),
        "key_limits_form": extra.pop("key_limits_form", LimitsForm(prefix="key")),
        "limits": usage_selectors.limits_in_force(app.tenant, viewer=request.user, application=app),
        "rotate_form": RotateForm(),
        **extra,
    }, status=400 if invalid else 200)


@login_required
def application(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_for_user_or_404(Application.objects.select_related("tenant", "owner"), request.user, pk=pk)
    return _application_page(request, app)


@login_required
@require_POST
def subscription_request(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_for_user_or_404(Application.objects.select_related("tenant"), request.user, pk=pk)
    form, limits_form = SubscriptionRequestForm(request.POST), LimitsForm(request.POST, prefix="sub")
    if form.is_valid() & limits_form.is_valid():
        values = limits_form.limit_values()
        try:
            with _with_limits(request, app, values, "subscription.request"):  # refused limits: no request either
                sub = services.request_subscription(actor=request.user, application=app, **form.cleaned_data)
                if values:
                    services.set_limits(actor=request.user, owner=sub, values=values)
        except ValidationError as exc:
            add_service_errors(limits_form if _names_a_limit(exc) else form, exc)
        else:
            if sub.status == SubscriptionStatus.APPROVED:
                messages.success(request, f"Access to {sub.alias.name} was approved at once by policy. "
                                          "Next: create a key.")
            else:
                messages.success(request, f"Access to {sub.alias.name} was requested; its approvers were told. "
                                          "You will be notified of the decision.")
            return redirect("portal:application", app.pk)
    return _application_page(request, app, request_form=form, request_limits_form=limits_form, invalid=True)


@login_required
def subscription_row(request: HttpRequest, pk: int) -> HttpResponse:
    """One row of the application page's subscriptions, for the live refresh when a decision arrives."""
    sub = get_for_user_or_404(Subscription.objects.select_related("application", "alias", "requested_by")
                              .prefetch_related("transitions"), request.user, pk=pk)
    return render(request, "portal/_subscription_row.html",
                  {"s": sub, "may_manage": can(request.user, "key.manage", sub.application)})


@login_required
@require_POST
def subscription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    sub = get_for_user_or_404(Subscription.objects.select_related("application", "alias"), request.user, pk=pk)
    form = ReasonForm(request.POST)
    form.is_valid()
    try:
        services.cancel_subscription(actor=request.user, subscription=sub, comment=form.cleaned_data.get("comment", ""))
        messages.success(request, f"The subscription to {sub.alias.name} is cancelled.")
    except ValidationError as exc:
        _say(request, exc)
    return redirect("portal:application", sub.application_id)


@login_required
@require_POST
def key_create(request: HttpRequest, pk: int) -> HttpResponse:
    app = get_for_user_or_404(Application.objects.select_related("tenant"), request.user, pk=pk)
    form, limits_form = KeyForm(request.POST), LimitsForm(request.POST, prefix="key")
    if form.is_valid() & limits_form.is_valid():
        days, values = form.cleaned_data["expires_in_days"], limits_form.limit_values()
        try:
            with _with_limits(request, app, values, "key.manage"):  # refused limits: no key either
                key, secret = services.create_api_key(
                    actor=request.user, application=app, name=form.cleaned_data["name"],
                    expires_at=timezone.now() + timedelta(days=days) if days else None,
                    ip_allowlist=form.cleaned_data["ip_allowlist"])
                if values:
                    services.set_limits(actor=request.user, owner=key, values=values)
        except ValidationError as exc:
            add_service_errors(limits_form if _names_a_limit(exc) else form, exc)
        else:
            return _show_key_once(request, key, secret)
    return _application_page(request, app, key_form=form, key_limits_form=limits_form, invalid=True)


@login_required
def key_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The new key's secret, once: the page the key form redirects to. Reloaded, it says the secret is gone."""
    key = get_for_user_or_404(ApiKey.objects.select_related("application", "replaces"), request.user, pk=pk)
    held = shown_once.take(request, kind="key", pk=key.pk)
    if held is None:
        messages.info(request, f"The secret of key {key.key_prefix}… was shown once and cannot be shown again. "
                               "If it was not stored, rotate the key or create another.")
        return redirect("portal:application", key.application_id)
    return _secret_page(request, {"key": key, "secret": held["secret"], "app": key.application, "what": "API key",
                                  "rotated_from": key.replaces if held.get("rotated") else None,
                                  "overlap_hours": held.get("overlap_hours")})


@login_required
@require_POST
def key_rotate(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_for_user_or_404(ApiKey.objects.select_related("application"), request.user, pk=pk)
    form = RotateForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("portal:application", key.application_id)
    hours = form.cleaned_data["overlap_hours"]
    try:
        new, secret = services.rotate_api_key(actor=request.user, key=key, overlap=timedelta(hours=hours))
    except ValidationError as exc:
        _say(request, exc)
        return redirect("portal:application", key.application_id)
    return _show_key_once(request, new, secret, rotated=True, overlap_hours=hours)


@login_required
@require_POST
def key_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_for_user_or_404(ApiKey.objects.select_related("application"), request.user, pk=pk)
    error = ""
    try:
        services.revoke_api_key(actor=request.user, key=key, reason=request.POST.get("reason", ""))
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        key = selectors.keys_for(request.user).select_related("replaced_by").get(pk=key.pk)
        return render(request, "portal/_key_row.html", {"key": key, "may_manage": True, "error": error,
                                                        "rotate_form": RotateForm()})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Key {key.key_prefix}… is revoked; the gateway refuses it within a second.")
    return redirect("portal:application", key.application_id)


@login_required
@require_POST
def key_ip_allowlist(request: HttpRequest, pk: int) -> HttpResponse:
    key = get_for_user_or_404(ApiKey.objects.select_related("application"), request.user, pk=pk)
    form = IpAllowlistForm(request.POST)
    form.is_valid()
    try:
        services.set_key_ip_allowlist(actor=request.user, key=key, ip_allowlist=form.cleaned_data.get("ip_allowlist"))
        messages.success(request, f"The IP allow-list of {key.key_prefix}… is saved.")
    except ValidationError as exc:
        _say(request, exc)
    return redirect("portal:application", key.application_id)


# --- dedicated hosting ----------------------------------------------------------------------------

@login_required
def hosting_new(request: HttpRequest, slug: str) -> HttpResponse:
    tenant = get_for_user_or_404(Tenant.objects, request.user, slug=slug)
    require(request.user, "hosting.request", tenant)
    form = HostingRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        data["expected_tokens_per_minute"] = data["expected_tokens_per_minute"] or 0
        try:
            services.request_hosting(actor=request.user, tenant=tenant, **data)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, "Your request for dedicated hosting was sent to the platform admins.")
            return redirect("tenant_detail", tenant.slug)
    return render(request, "portal/hosting_form.html", {"tenant": tenant, "form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
@require_POST
def hosting_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    hosting = get_for_user_or_404(HostingRequest.objects.select_related("tenant"), request.user, pk=pk)
    try:
        services.cancel_hosting_request(actor=request.user, request=hosting)
        messages.success(request, "The hosting request is cancelled.")
    except ValidationError as exc:
        _say(request, exc)
    return redirect("tenant_detail", hosting.tenant.slug)


# --- approvers ------------------------------------------------------------------------------------

@login_required
def approvals(request: HttpRequest) -> HttpResponse:
    if not selectors.is_approver(request.user):
        require(request.user, "subscription.decide")  # audits the refusal and raises
    is_admin = request.user.is_platform_admin
    return render(request, "portal/approvals.html", {
        "queue": [_with_limits_form(request, sub) for sub in selectors.approval_queue(request.user)],
        "hosting_queue": selectors.hosting_queue(request.user),
        "rules": selectors.auto_approval_rules() if is_admin else [],
        "rule_form": AutoApprovalRuleForm(), "hosting_form": HostingDecisionForm(), "is_admin": is_admin,
    })


def _with_limits_form(request: HttpRequest, sub: Subscription, form: LimitsForm | None = None) -> Subscription:
    """The queue row's limit fields: only for approvers who may set a subscription's limits (the team's
    developers and platform admins; a model owner from outside the team approves without them)."""
    sub.may_set_limits = can(request.user, "limits.narrow", sub)
    sub.limits_form = form or LimitsForm(prefix=f"limits-{sub.pk}", auto_id=f"id_%s_{sub.pk}")
    return sub


def _decide(request: HttpRequest, sub: Subscription, form: DecisionForm, limits_form: LimitsForm) -> str:
    """Approve (with the limits given) or reject ``sub``; the error to show, or empty."""
    if not form.is_valid() or not limits_form.is_valid():
        return error_text(form, limits_form)
    approve = form.cleaned_data["decision"] == "approve"
    values = limits_form.limit_values() if approve else {}
    if values and not can(request.user, "limits.narrow", sub):
        return "Only the team's developers and platform admins set a subscription's limits; approve without them."
    if values:
        refuse_own_request(request.user, sub, verb="approve")  # audited, so before the transaction
    try:
        with _with_limits(request, sub, values, "subscription.decide"):  # approved with its limits or not at all
            if approve:
                services.approve_subscription(actor=request.user, subscription=sub,
                                              comment=form.cleaned_data["comment"])
                if values:
                    services.set_limits(actor=request.user, owner=sub, values=values)
            else:
                services.reject_subscription(actor=request.user, subscription=sub,
                                             comment=form.cleaned_data["comment"])
    except ValidationError as exc:
        sub.refresh_from_db()
        return " ".join(exc.messages)
    return ""


@login_required
@require_POST
def subscription_decide(request: HttpRequest, pk: int) -> HttpResponse:
    sub = selectors.subscriptions_decidable_by(request.user).filter(pk=pk).first()
    if sub is None:
        raise Http404("No such request in your queue.")
    limits_form = LimitsForm(request.POST, prefix=f"limits-{sub.pk}", auto_id=f"id_%s_{sub.pk}")
    error = _decide(request, sub, DecisionForm(request.POST), limits_form)
    if request.htmx:
        _with_limits_form(request, sub, limits_form if error else None)
        return render(request, "portal/_queue_row.html", {"sub": sub, "error": error})
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"{sub.application.name} → {sub.alias.name}: {sub.status}.")
    return redirect("portal:approvals")


@login_required
@require_POST
def hosting_decide(request: HttpRequest, pk: int) -> HttpResponse:
    hosting = get_for_user_or_404(HostingRequest.objects.select_related("alias", "tenant"), request.user, pk=pk)
    form = HostingDecisionForm(request.POST)
    if not form.is_valid():
        _form_errors(request, form)
        return redirect("portal:approvals")
    data = form.cleaned_data
    try:
        if data["decision"] == "approve":
            services.approve_hosting_request(actor=request.user, request=hosting, endpoint=data["endpoint"],
                                             comment=data["comment"])
        else:
            services.reject_hosting_request(actor=request.user, request=hosting, comment=data["comment"])
        messages.success(request, f"Dedicated {hosting.alias.name} for {hosting.tenant.name}: {hosting.status}.")
    except ValidationError as exc:
        _say(request, exc)
    return redirect("portal:approvals")


@login_required
@require_POST
def rule_create(request: HttpRequest) -> HttpResponse:
    require(request.user, "auto_approval.manage")
    form = AutoApprovalRuleForm(request.POST)
    if form.is_valid():
        try:
            rule = services.create_auto_approval_rule(actor=request.user, **form.cleaned_data)
            messages.success(request, f"Auto-approval rule added: {rule}.")
        except ValidationError as exc:
            _say(request, exc)
    else:
        _form_errors(request, form)
    return redirect("portal:approvals")


@login_required
@require_POST
def rule_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    require(request.user, "auto_approval.manage")
    rule = AutoApprovalRule.objects.filter(pk=pk).first()
    if rule is None:
        raise Http404("No such rule.")
    services.deactivate_auto_approval_rule(actor=request.user, rule=rule)
    messages.success(request, f"Auto-approval rule removed: {rule}.")
    return redirect("portal:approvals")


# --- people ---------------------------------------------------------------------------------------

@login_required
def tokens(request: HttpRequest) -> HttpResponse:
    form = AccessTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        days = form.cleaned_data["expires_in_days"]
        try:
            token, secret = services.create_personal_access_token(
                user=request.user, name=form.cleaned_data["name"],
                expires_at=timezone.now() + timedelta(days=days) if days else None)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            shown_once.keep(request, kind="token", pk=token.pk, secret=secret)
            return redirect("portal:token_secret", token.pk)
    return render(request, "portal/tokens.html", {"tokens": selectors.access_tokens_of(request.user), "form": form},
                  status=400 if request.method == "POST" else 200)


@login_required
def token_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The new personal access token, once (the token form redirects here)."""
    token = selectors.access_tokens_of(request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    held = shown_once.take(request, kind="token", pk=token.pk)
    if held is None:
        messages.info(request, f"Token {token.name} was shown once and cannot be shown again; "
                               "if it was not stored, revoke it and create another.")
        return redirect("portal:tokens")
    return _secret_page(request, {"token": token, "secret": held["secret"], "what": "personal access token"})


@login_required
@require_POST
def token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    token = selectors.access_tokens_of(request.user).filter(pk=pk).first()
    if token is None:
        raise Http404("No such token.")
    services.revoke_personal_access_token(user=request.user, token=token)
    messages.success(request, f"Token {token.name} is revoked.")
    return redirect("portal:tokens")


@login_required
def notifications(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        selectors.notifications_of(request.user).filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("portal:notifications")
    return render(request, "portal/notifications.html", {"notifications": selectors.notifications_of(request.user)[:100]})
