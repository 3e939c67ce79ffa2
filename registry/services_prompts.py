"""Every change to a prompt API goes through one of these functions.

As the registry's other services: keyword-only, the permission checked first (``prompt.create`` on the
team, ``prompt.manage`` on the prompt: its owners and platform admins; ``actor=None`` is the system), one
transaction, one audit event per change, and the ``registry`` config version bumped so gateways reload.

A version is written as a draft and published; once published it never changes. With
``requires_approval`` a publication, and a move of the ``production`` label, become a ``PromptChange``
that a second person (another owner or a platform admin, never the one who asked) approves or rejects.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Max
from django.utils import timezone

from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from aiplatform.permissions import can
from registry import prompt_templates, services
from registry.models import AliasKind, AliasStatus, ModelAlias
from registry.models.prompts import (
    PRODUCTION,
    ChangeKind,
    ChangeStatus,
    PromptApi,
    PromptChange,
    PromptLabel,
    PromptVersion,
    VersionStatus,
)
from registry.models.providers import SLUG
from registry.services import _changed_registry, _service


def _version_audit(version: PromptVersion) -> dict[str, Any]:
    return {"version": version.number, "alias": version.alias.name, "template": version.template,
            "system_prompt": version.system_prompt, "variables": version.variables,
            "temperature": None if version.temperature is None else str(version.temperature),
            "max_tokens": version.max_tokens, "status": version.status}


@_service("prompt.create", on="tenant")
def create_prompt(*, actor: User | None, tenant: Tenant, slug: str, title: str, description: str = "",
                  owners: list[User] | None = None, requires_approval: bool = False) -> PromptApi:
    """A prompt API of ``tenant``, without versions yet; its owners default to the actor."""
    prompt = PromptApi(tenant=tenant, slug=slug, title=title.strip(), description=description,
                       requires_approval=requires_approval, created_by=actor)
    prompt.full_clean()
    if ModelAlias.objects.filter(name=slug).exists():
        raise ValidationError({"slug": f"{slug!r} is taken by a model or another prompt API: callers name both alike."})
    prompt.save()
    prompt.owners.set(owners if owners is not None else ([actor] if actor else []))
    # The alias teams subscribe to (the same request, approval and keys as a model's), owned by the prompt's owners.
    services.create_alias(actor=None, name=slug, kind=AliasKind.PROMPT, status=AliasStatus.APPROVED,
                          owners=list(prompt.owners.all()))
    record_event(action="prompt.create", actor=actor, tenant=tenant, target=prompt,
                 changes={"slug": slug, "title": prompt.title, "requires_approval": requires_approval,
                          "owners": sorted(u.email for u in prompt.owners.all())})
    _changed_registry()
    return prompt


@_service("prompt.manage", on="prompt")
def update_prompt(*, actor: User | None, prompt: PromptApi, **fields: Any) -> PromptApi:
    """Change the title, description, approval setting or owners (the versions are untouched)."""
    unknown = set(fields) - {"title", "description", "requires_approval", "owners"}
    if unknown:
        raise ValidationError(f"Unknown prompt fields: {', '.join(sorted(unknown))}")
    changes: dict[str, list] = {}
    for name in ("title", "description", "requires_approval"):
        if name in fields and getattr(prompt, name) != fields[name]:
            changes[name] = [getattr(prompt, name), fields[name]]
            setattr(prompt, name, fields[name])
    prompt.full_clean()
    prompt.save()
    if "owners" in fields:
        before = sorted(u.email for u in prompt.owners.all())
        prompt.owners.set(fields["owners"])
        ModelAlias.objects.get(name=prompt.slug, kind=AliasKind.PROMPT).owners.set(fields["owners"])
        after = sorted(u.email for u in prompt.owners.all())
        if before != after:
            changes["owners"] = [before, after]
    if changes:
        record_event(action="prompt.update", actor=actor, tenant=prompt.tenant, target=prompt, changes=changes)
        _changed_registry()
    return prompt


def _chat_alias(alias: str | ModelAlias) -> ModelAlias:
    found = alias if isinstance(alias, ModelAlias) else ModelAlias.objects.filter(name=alias).first()
    if found is None:
        raise ValidationError({"alias": f"No model {alias!r} in the registry."})
    if found.kind != AliasKind.CHAT or found.status in (AliasStatus.DRAFT, AliasStatus.RETIRED):
        raise ValidationError({"alias": f"{found.name} is not a chat model in service."})
    return found


@_service("prompt.manage", on="prompt")
def add_version(*, actor: User | None, prompt: PromptApi, template: str, alias: str | ModelAlias,
                system_prompt: str = "", variables: Any = (), temperature: Decimal | None = None,
                max_tokens: int | None = None, note: str = "") -> PromptVersion:
    """The next version of ``prompt``, as a draft. A template using an undeclared variable is refused."""
    declared = prompt_templates.parse_variables(list(variables) if isinstance(variables, tuple) else variables)
    prompt_templates.check(template=template, system_prompt=system_prompt, variables=declared)
    PromptApi.objects.select_for_update().filter(pk=prompt.pk).first()  # numbers are taken one at a time
    number = (prompt.versions.aggregate(last=Max("number"))["last"] or 0) + 1
    version = PromptVersion(prompt=prompt, number=number, template=template, system_prompt=system_prompt,
                            variables=[v.as_dict() for v in declared], alias=_chat_alias(alias),
                            temperature=temperature, max_tokens=max_tokens, note=note, created_by=actor)
    version.full_clean()
    version.save()
    record_event(action="prompt.version_create", actor=actor, tenant=prompt.tenant, target=prompt,
                 changes=_version_audit(version))
    _changed_registry()  # so a call of it says "not published" rather than "no such version"
    return version


def _second_person(actor: User | None, change: PromptChange) -> None:
    if actor is not None and change.requested_by_id == actor.pk:
        raise PermissionDenied("A second person approves this change: not the one who asked for it.")


def _publish_now(*, actor: User | None, version: PromptVersion, approved_by: User | None = None) -> None:
    version.status = VersionStatus.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = actor
    version.save(update_fields=["status", "published_at", "published_by"])
    record_event(action="prompt.publish", actor=approved_by or actor, tenant=version.prompt.tenant,
                 target=version.prompt, changes={"version": version.number,
                                                 **({"requested_by": actor.email} if approved_by and actor else {})})
    _changed_registry()


@_service("prompt.manage", on="prompt")
def publish(*, actor: User | None, prompt: PromptApi, version: PromptVersion) -> PromptChange | None:
    """Publish a draft version: now, or (``requires_approval``) once a second person approves the returned
    change. From then on the version never changes."""
    version = PromptVersion.objects.select_for_update().get(pk=version.pk, prompt=prompt)
    if version.status != VersionStatus.DRAFT:
        raise ValidationError(f"Version {version.number} is {version.get_status_display().lower()}, not a draft.")
    if not prompt.requires_approval:
        _publish_now(actor=actor, version=version)
        return None
    version.status = VersionStatus.PENDING
    version.save(update_fields=["status"])
    change = PromptChange.objects.create(prompt=prompt, kind=ChangeKind.PUBLISH, version=version, requested_by=actor)
    record_event(action="prompt.change_request", actor=actor, tenant=prompt.tenant, target=prompt,
                 changes={"kind": change.kind, "version": version.number})
    return change


def _move_now(*, actor: User | None, prompt: PromptApi, label: str, version: PromptVersion,
              approved_by: User | None = None) -> PromptLabel:
    existing = PromptLabel.objects.select_for_update().filter(prompt=prompt, name=label).first()
    before = existing.version.number if existing else None
    if existing is None:
        existing = PromptLabel(prompt=prompt, name=label)
    existing.version, existing.moved_by = version, actor
    existing.full_clean()
    existing.save()
    record_event(action="prompt.label_move", actor=approved_by or actor, tenant=prompt.tenant, target=prompt,
                 changes={"label": label, "version": [before, version.number],
                          **({"requested_by": actor.email} if approved_by and actor else {})})
    _changed_registry()
    return existing


@_service("prompt.manage", on="prompt")
def move_label(*, actor: User | None, prompt: PromptApi, label: str,
               version: PromptVersion) -> PromptLabel | PromptChange:
    """Point ``label`` at a published version (creating the label); with ``requires_approval`` a move of
    ``production`` waits for a second person (the returned change)."""
    try:
        SLUG(label)
    except ValidationError:
        raise ValidationError({"label": "A label is lower-case letters, digits, dots, dashes, underscores."}) from None
    version = PromptVersion.objects.get(pk=version.pk, prompt=prompt)
    if not version.is_published:
        raise ValidationError({"label": f"Version {version.number} is not published: a label points at a "
                                        "published version."})
    if label == PRODUCTION and prompt.requires_approval:
        waiting = PromptChange.objects.filter(prompt=prompt, kind=ChangeKind.MOVE_LABEL, label=label,
                                              status=ChangeStatus.PENDING).select_related("version").first()
        if waiting is not None:
            raise ValidationError({"label": f"A move of {label} to version {waiting.version.number} is waiting for "
                                            "approval: decide it first."})
        change = PromptChange.objects.create(prompt=prompt, kind=ChangeKind.MOVE_LABEL, version=version,
                                             label=label, requested_by=actor)
        record_event(action="prompt.change_request", actor=actor, tenant=prompt.tenant, target=prompt,
                     changes={"kind": change.kind, "label": label, "version": version.number})
        return change
    return _move_now(actor=actor, prompt=prompt, label=label, version=version)


@_service("prompt.manage", on="prompt")
def decide_change(*, actor: User | None, prompt: PromptApi, change: PromptChange, approve: bool,
                  comment: str = "") -> PromptChange:
    """Approve (and apply) or reject a pending change: by a second person."""
    change = PromptChange.objects.select_for_update(of=("self",)).select_related("version", "requested_by").get(
        pk=change.pk, prompt=prompt)
    if change.status != ChangeStatus.PENDING:
        raise ValidationError(f"This change is already {change.get_status_display().lower()}.")
    _second_person(actor, change)
    change.status = ChangeStatus.APPROVED if approve else ChangeStatus.REJECTED
    change.decided_by, change.decided_at, change.comment = actor, timezone.now(), comment[:500]
    change.save(update_fields=["status", "decided_by", "decided_at", "comment"])
    record_event(action="prompt.change_decide", actor=actor, tenant=prompt.tenant, target=prompt,
                 changes={"kind": change.kind, "version": change.version.number, "label": change.label,
                          "decision": change.status, "comment": change.comment,
                          "requested_by": change.requested_by.email if change.requested_by else None})
    if change.kind == ChangeKind.PUBLISH:
        if approve:
            _publish_now(actor=change.requested_by, version=change.version, approved_by=actor)
        else:
            change.version.status = VersionStatus.DRAFT
            change.version.save(update_fields=["status"])
    elif approve:
        _move_now(actor=change.requested_by, prompt=prompt, label=change.label, version=change.version,
                  approved_by=actor)
    return change


def may_manage(user: User, prompt: PromptApi) -> bool:
    return can(user, "prompt.manage", prompt)

