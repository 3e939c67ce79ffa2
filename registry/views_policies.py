"""Guardrail policy pages: the list (with which detectors can run here), one policy with its versions and
their diffs, and the form. Platform admins edit (``policy.manage``); platform auditors read (``policy.view``)."""

from __future__ import annotations

import difflib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from aiplatform.forms import add_service_errors
from aiplatform.permissions import can, require
from guardrails.detectors import available
from registry import selectors, services_policies
from registry.forms_policies import PolicyForm
from registry.models import Policy
from registry.policy_document import applies_to_text, rules_text, to_yaml
from registry.policy_spec import DETECTORS


def _view(request: HttpRequest) -> None:
    if not can(request.user, "policy.manage"):
        require(request.user, "policy.view")


@login_required
def policy_list(request: HttpRequest) -> HttpResponse:
    _view(request)
    can_run = available()
    rows = [{
        "policy": policy, "applies_to": applies_to_text(policy.document),
        "input": rules_text(policy.document, "input"), "output": rules_text(policy.document, "output"),
        "residency": ", ".join(policy.document.get("residency", {}).get("regions", ())),
        "payload_logging": policy.document.get("payload_logging", ""),
    } for policy in selectors.policies()]
    return render(request, "registry/policies.html", {
        "rows": rows, "can_manage": can(request.user, "policy.manage"),
        "detectors": [(name, info, can_run[name]) for name, info in DETECTORS.items()],
    })


@login_required
def policy_detail(request: HttpRequest, name: str) -> HttpResponse:
    _view(request)
    policy = get_object_or_404(selectors.policies(), name=name)
    versions = list(selectors.policy_history(policy))
    history = []
    for i, version in enumerate(versions):
        text = to_yaml(version.document)
        older = versions[i + 1] if i + 1 < len(versions) else None
        diff = list(difflib.unified_diff(to_yaml(older.document).splitlines(), text.splitlines(), lineterm="",
                                         fromfile=f"v{older.version}", tofile=f"v{version.version}")) \
            if older else []
        history.append({"version": version, "yaml": text, "diff": diff[2:]})
    return render(request, "registry/policy.html", {
        "policy": policy, "history": history, "can_manage": can(request.user, "policy.manage"),
        "applies_to": applies_to_text(policy.document),
    })


@login_required
def policy_form(request: HttpRequest, name: str | None = None) -> HttpResponse:
    require(request.user, "policy.manage")
    policy = get_object_or_404(Policy, name=name) if name else None
    initial = {"name": policy.name, "description": policy.description,
               "document": to_yaml(policy.document)} if policy else None
    form = PolicyForm(request.POST or None, initial=initial)
    if policy is not None:
        form.fields["name"].disabled = True
        form.fields["name"].required = False
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if policy is None:
                policy = services_policies.create_policy(actor=request.user, name=data["name"],
                                                         document=data["document"], description=data["description"])
            else:
                services_policies.update_policy(actor=request.user, policy=policy, document=data["document"],
                                                description=data["description"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Policy {policy.name} saved (version {policy.version}).")
            return redirect("registry:policy", name=policy.name)
    return render(request, "registry/policy_form.html", {"form": form, "policy": policy})


@login_required
@require_POST
def policy_enable(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "policy.manage")
    policy = get_object_or_404(Policy, name=name)
    enabled = request.POST.get("enabled") == "true"
    services_policies.set_policy_enabled(actor=request.user, policy=policy, enabled=enabled)
    messages.success(request, f"Policy {policy.name} {'enabled' if enabled else 'disabled'}.")
    return redirect("registry:policy", name=policy.name)


@login_required
@require_POST
def policy_delete(request: HttpRequest, name: str) -> HttpResponse:
    require(request.user, "policy.manage")
    policy = get_object_or_404(Policy, name=name)
    services_policies.delete_policy(actor=request.user, policy=policy)
    messages.success(request, f"Policy {name} deleted.")
    return redirect("registry:policies")
