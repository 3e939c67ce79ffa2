"""Prompt API pages: the list, a prompt's page (versions with their diffs, labels, usage and feedback per version,
try-it, request access, the snippet), and its owners' forms (new prompt, new version, publish, move a label,
decide a change). Views parse a form, call one service or selector, and render."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from aiplatform.forms import add_service_errors, error_text
from aiplatform.models import Tenant
from aiplatform.permissions import can
from aiplatform.selectors import tenants_for_user
from portal import playground_selectors
from portal import selectors_prompts as selectors
from portal.forms_prompts import DecisionForm, LabelForm, PromptForm, VersionForm
from portal.playground_client import Outcome, chat_body, stream_chat
from portal.services import playground as playground_services
from portal.templatetags.card_actions import prompt_snippets
from registry import prompt_templates
from registry import services_prompts as services
from registry.models import ModelAlias
from registry.models.prompts import PromptChange, VersionStatus


@login_required
@require_GET
def prompt_list(request: HttpRequest) -> HttpResponse:
    teams = [t for t in tenants_for_user(request.user) if can(request.user, "prompt.create", t)]
    return render(request, "portal/prompts/list.html", {"prompts": selectors.prompt_list(), "may_create": bool(teams)})


@login_required
@require_http_methods(["GET", "POST"])
def prompt_new(request: HttpRequest) -> HttpResponse:
    teams = [t for t in tenants_for_user(request.user) if can(request.user, "prompt.create", t)]
    if not teams:
        raise PermissionDenied("A team's developers publish its prompt APIs: you are a developer of no team.")
    form = PromptForm(request.POST or None, teams=teams)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            prompt = services.create_prompt(actor=request.user, tenant=Tenant.objects.get(slug=data["team"]),
                                            slug=data["slug"], title=data["title"], description=data["description"],
                                            requires_approval=data["requires_approval"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Created {prompt.slug}. Write its first version.")
            return redirect("prompts:version_new", prompt.slug)
    return render(request, "portal/prompts/new.html", {"form": form}, status=400 if form.errors else 200)


def _try_values(version, data) -> dict[str, Any]:
    """The try-it form's fields as the variables' types (a field left empty is left out)."""
    values: dict[str, Any] = {}
    for variable in prompt_templates.parse_variables(version.variables):
        raw = data.get(f"var-{variable.name}", "")
        if variable.type == "boolean":
            values[variable.name] = raw == "on"
        elif raw == "":
            continue
        elif variable.type == "integer":
            values[variable.name] = int(raw) if raw.lstrip("-").isdigit() else raw
        elif variable.type == "number":
            try:
                values[variable.name] = float(raw)
            except ValueError:
                values[variable.name] = raw
        else:
            values[variable.name] = raw
    return values


def _page(request: HttpRequest, prompt, *, tried: dict | None = None, status: int = 200,
          version_form: VersionForm | None = None) -> HttpResponse:
    rows = selectors.version_rows(prompt)
    published = [r.version for r in rows if r.version.status == VersionStatus.PUBLISHED]
    current = next((r.version for r in rows if "production" in r.labels), published[0] if published else None)
    snippets = {}
    if current is not None:
        snippets = prompt_snippets(prompt.slug, prompt_templates.parse_variables(current.variables),
                                   settings.SITE_URL)
    return render(request, "portal/prompts/detail.html", {
        "prompt": prompt, "rows": rows, "published": published, "current": current,
        "alias": ModelAlias.objects.filter(name=prompt.slug).first(), "snippets": snippets,
        "may_manage": services.may_manage(request.user, prompt), "pending": selectors.pending_changes(prompt),
        "label_form": LabelForm(initial={"version": current.number if current else None}),
        "tried": tried, "try_version": (tried or {}).get("version") or current}, status=status)


@login_required
@require_GET
def prompt_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return _page(request, selectors.prompt_for(slug))


@login_required
@require_POST
def prompt_try(request: HttpRequest, slug: str) -> HttpResponse:
    """Try a published version: the messages its call would send with these variables (or what is wrong)."""
    prompt = selectors.prompt_for(slug)
    raw = request.POST.get("version", "")
    version = prompt.versions.filter(number=int(raw) if raw.isdigit() else 0,
                                     status=VersionStatus.PUBLISHED).first()
    if version is None:
        return _page(request, prompt, tried={"error": "Choose a published version."}, status=400)
    try:
        bound = prompt_templates.bind(prompt_templates.parse_variables(version.variables),
                                      _try_values(version, request.POST))
        rendered = prompt_templates.render_messages(template=version.template, system_prompt=version.system_prompt,
                                                    bound=bound)
    except prompt_templates.VariableError as exc:
        return _page(request, prompt, tried={"version": version, "error": exc.message}, status=400)
    tried = {"version": version, "messages": rendered, "values": bound}
    if request.POST.get("run"):
        tried.update(_run(request, version, rendered))
    return _page(request, prompt, tried=tried)


def _run(request: HttpRequest, version, rendered: list[dict[str, str]]) -> dict[str, Any]:
    """Send the rendered messages to the version's model with the person's playground key, through the gateway
    like any call (their team's playground plan and the model's limits apply), and collect the answer."""
    alias = version.alias.name
    team = next((t for t in playground_selectors.teams_of(request.user)
                 if alias in playground_services.team_aliases(t)), None)
    if team is None:
        return {"run_error": f"None of your teams may use {alias} in the playground: the preview above is what a "
                             "call sends."}
    try:
        access = playground_services.ensure_access(user=request.user, team=team)
    except PermissionDenied as exc:
        return {"run_error": str(exc)}
    outcome = Outcome()
    body = chat_body(alias=alias, messages=rendered, max_tokens=version.max_tokens, user=f"playground-user-{request.user.pk}",
                     temperature=float(version.temperature) if version.temperature is not None else None)

    async def drain() -> None:
        async for _ in stream_chat(secret=playground_services.key_secret(access), body=body, outcome=outcome):
            pass

    async_to_sync(drain)()
    return {"answer": outcome.content, "run_error": outcome.error, "run_team": team, "run_alias": alias}


@login_required
@require_http_methods(["GET", "POST"])
def version_new(request: HttpRequest, slug: str) -> HttpResponse:
    prompt = selectors.prompt_for(slug)
    if not services.may_manage(request.user, prompt):
        raise PermissionDenied("Only the prompt's owners write its versions.")
    latest = prompt.versions.select_related("alias").order_by("-number").first()
    initial = {}
    if latest is not None:
        initial = {"model": latest.alias.name, "system_prompt": latest.system_prompt, "template": latest.template,
                   "variables": json.dumps(latest.variables), "temperature": latest.temperature,
                   "max_tokens": latest.max_tokens}
    form = VersionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            version = services.add_version(
                actor=request.user, prompt=prompt, template=data["template"], alias=data["model"],
                system_prompt=data["system_prompt"], variables=data["variables"],
                temperature=Decimal(data["temperature"]) if data["temperature"] is not None else None,
                max_tokens=data["max_tokens"], note=data["note"])
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, f"Saved version {version.number} as a draft: publish it to make it callable.")
            return redirect("prompts:detail", prompt.slug)
    return render(request, "portal/prompts/version_new.html", {"prompt": prompt, "form": form},
                  status=400 if form.errors else 200)


@login_required
@require_POST
def version_publish(request: HttpRequest, slug: str, number: int) -> HttpResponse:
    prompt = selectors.prompt_for(slug)
    version = prompt.versions.filter(number=number).first()
    if version is None:
        messages.error(request, f"{prompt.slug} has no version {number}.")
        return redirect("prompts:detail", prompt.slug)
    try:
        change = services.publish(actor=request.user, prompt=prompt, version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Version {number} waits for a second owner's approval." if change
                         else f"Published version {number}: callers may pin it as {prompt.slug}@{number}.")
    return redirect("prompts:detail", prompt.slug)


@login_required
@require_POST
def label_move(request: HttpRequest, slug: str) -> HttpResponse:
    prompt = selectors.prompt_for(slug)
    form = LabelForm(request.POST)
    if not form.is_valid():
        messages.error(request, error_text(form))
        return redirect("prompts:detail", prompt.slug)
    label, number = form.cleaned_data["label"], form.cleaned_data["version"]
    version = prompt.versions.filter(number=number).first()
    try:
        if version is None:
            raise ValidationError(f"{prompt.slug} has no version {number}.")
        moved = services.move_label(actor=request.user, prompt=prompt, label=label, version=version)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Moving {label} to version {number} waits for a second owner's approval."
                         if isinstance(moved, PromptChange) else f"{label} now points at version {number}.")
    return redirect("prompts:detail", prompt.slug)


@login_required
@require_POST
def change_decide(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    prompt = selectors.prompt_for(slug)
    change = prompt.changes.filter(pk=pk).first()
    form = DecisionForm(request.POST)
    if change is None or not form.is_valid():
        messages.error(request, "No such change, or no decision given.")
        return redirect("prompts:detail", prompt.slug)
    try:
        services.decide_change(actor=request.user, prompt=prompt, change=change,
                               approve=form.cleaned_data["decision"] == "approve", comment=form.cleaned_data["comment"])
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except PermissionDenied as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Approved and applied." if form.cleaned_data["decision"] == "approve" else "Rejected.")
    return redirect("prompts:detail", prompt.slug)
