"""The ``prompts:`` section of a registry file: prompt APIs in git beside the models they call.

::

    prompts:
      - slug: summarise
        title: Summarise in bullets
        team: alpha                       # the publishing team's slug
        owners: [author@example.com]      # absent: owners are left as they are
        requires_approval: true           # publishing and moving production need a second person
        versions:                         # in order: the n-th entry is version n
          - model: fast-chat
            template: "Summarise {{ text }} in {{ n }} bullets"
            system_prompt: "Be terse."
            variables: [{name: text}, {name: n, type: integer, default: 3}]
            temperature: 0.2
            max_tokens: 300
            note: "First version"
            published: true               # default true; false keeps it a draft
        labels: {production: 1, staging: 2}

Applied after the models, through ``registry.services_prompts``, so every rule holds as in the portal: a
template using an undeclared variable is refused; a published version never changes (a file that changes
one is refused: add a new version instead); versions are never removed, so the file lists them all; with
``requires_approval`` a publication or a move of ``production`` becomes a change waiting for a second person
(the apply reports it as requested). Applying an export changes nothing. ``prune`` leaves prompt APIs alone:
callers may be pinned to their versions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError

from aiplatform.models import Tenant, User
from registry import prompt_templates, services_prompts
from registry.models import ModelAlias
from registry.models.prompts import PromptApi, PromptChange, PromptLabel, PromptVersion, VersionStatus
from registry.models.providers import SLUG

if TYPE_CHECKING:
    from registry.as_code import _Applier, _Reader

PROMPT_KEYS = {"slug", "title", "description", "team", "owners", "requires_approval", "versions", "labels"}
VERSION_KEYS = {"model", "template", "system_prompt", "variables", "temperature", "max_tokens", "note", "published"}


@dataclass
class VersionEntry:
    path: str
    model: str
    template: str
    system_prompt: str
    variables: list[dict[str, Any]]
    temperature: Decimal | None
    max_tokens: int | None
    note: str
    published: bool

    def content(self) -> tuple:
        return (self.model, self.template, self.system_prompt, self.variables, self.temperature, self.max_tokens)


@dataclass
class PromptEntry:
    slug: str
    path: str
    title: str
    description: str
    team: str
    owners: list[str] | None
    requires_approval: bool
    versions: list[VersionEntry] = field(default_factory=list)
    labels: dict[str, int] = field(default_factory=dict)


def _content(version: PromptVersion) -> tuple:
    return (version.alias.name, version.template, version.system_prompt, version.variables, version.temperature,
            version.max_tokens)


def _read_version(raw: Any, path: str, reader: _Reader) -> VersionEntry | None:
    obj = reader.mapping(raw, path, VERSION_KEYS)
    if obj is None:
        return None
    entry = VersionEntry(
        path=path, model=reader.text(obj, "model", path, required=True),
        template=reader.text(obj, "template", path, required=True),
        system_prompt=reader.text(obj, "system_prompt", path), variables=[],
        temperature=reader.number(obj["temperature"], f"{path}.temperature") if obj.get("temperature") is not None
        else None,
        max_tokens=reader.number(obj["max_tokens"], f"{path}.max_tokens", integer=True, positive=True)
        if obj.get("max_tokens") is not None else None,
        note=reader.text(obj, "note", path), published=obj.get("published", True))
    if not isinstance(entry.published, bool):
        reader.problem(f"{path}.published", "must be true or false")
    try:
        declared = prompt_templates.parse_variables(obj.get("variables", []))
        prompt_templates.check(template=entry.template, system_prompt=entry.system_prompt, variables=declared)
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            for message in messages:
                reader.problem(f"{path}.{name}", message)
        return None
    entry.variables = [v.as_dict() for v in declared]
    if entry.temperature is not None:
        entry.temperature = entry.temperature.quantize(Decimal("0.01"))
    return entry


def read_prompts(doc: dict, reader: _Reader, *, aliases: set[str]) -> list[PromptEntry] | None:
    """The file's prompt APIs, checked (None: the file has no ``prompts:``). ``aliases``: the models the file
    and the registry hold."""
    if "prompts" not in doc:
        return None
    entries: list[PromptEntry] = []
    seen: set[str] = set()
    raw_entries = reader.items(doc, "prompts")
    teams = set(Tenant.objects.values_list("slug", flat=True))
    for i, raw in enumerate(raw_entries):
        path = f"prompts[{i}]"
        obj = reader.mapping(raw, path, PROMPT_KEYS)
        if obj is None:
            continue
        slug = reader.text(obj, "slug", path, required=True)
        try:
            SLUG(slug)
        except ValidationError as exc:
            reader.problem(f"{path}.slug", exc.messages[0])
        if slug in seen:
            reader.problem(f"{path}.slug", f"prompt {slug!r} is listed twice")
        seen.add(slug)
        team = reader.text(obj, "team", path, required=True)
        if team and team not in teams:
            reader.problem(f"{path}.team", f"no team {team!r}")
        owners = obj.get("owners")
        if owners is not None:
            if not isinstance(owners, list) or not all(isinstance(o, str) for o in owners):
                reader.problem(f"{path}.owners", "must be a list of e-mail addresses")
                owners = None
            else:
                found = set(User.objects.filter(email__in=[o.lower() for o in owners]).values_list("email", flat=True))
                for owner in owners:
                    if owner.lower() not in found:
                        reader.problem(f"{path}.owners", f"no user {owner}")
        approval = obj.get("requires_approval", False)
        if not isinstance(approval, bool):
            reader.problem(f"{path}.requires_approval", "must be true or false")
        entry = PromptEntry(slug=slug, path=path, title=reader.text(obj, "title", path, required=True),
                            description=reader.text(obj, "description", path), team=team,
                            owners=[o.lower() for o in owners] if owners is not None else None,
                            requires_approval=approval is True)
        for j, raw_version in enumerate(reader.items(obj, "versions")):
            version = _read_version(raw_version, f"{path}.versions[{j}]", reader)
            if version is not None:
                if version.model and version.model not in aliases:
                    reader.problem(f"{version.path}.model", f"unknown model {version.model!r}")
                entry.versions.append(version)
        labels = obj.get("labels") or {}
        if not isinstance(labels, dict):
            reader.problem(f"{path}.labels", "must be a mapping of label to version number")
            labels = {}
        for label, number in labels.items():
            if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= len(entry.versions):
                reader.problem(f"{path}.labels.{label}", f"points at nothing: the file lists versions 1 to "
                                                         f"{len(entry.versions)}")
            elif not entry.versions[number - 1].published:
                reader.problem(f"{path}.labels.{label}", f"version {number} is not published")
            else:
                entry.labels[str(label)] = number
        entries.append(entry)
    return entries


def _owners(emails: list[str]) -> list[User]:
    return list(User.objects.filter(email__in=emails))


def apply_prompts(entries: list[PromptEntry] | None, applier: _Applier) -> None:
    """Create prompt APIs, add and publish versions, and move labels to match the file."""
    if entries is None:
        return
    actor = applier.actor
    for entry in entries:
        prompt = PromptApi.objects.filter(slug=entry.slug).first()
        if prompt is None:
            prompt = applier.attempt(entry.path, lambda e=entry: services_prompts.create_prompt(
                actor=actor, tenant=Tenant.objects.get(slug=e.team), slug=e.slug, title=e.title,
                description=e.description, owners=_owners(e.owners) if e.owners is not None else None,
                requires_approval=e.requires_approval))
            if prompt is None:
                continue
            applier.note("created", "prompt", entry.slug)
        else:
            if prompt.tenant.slug != entry.team:
                applier.reader.problem(f"{entry.path}.team", f"{entry.slug} belongs to {prompt.tenant.slug}: "
                                                             "a prompt API does not move between teams")
                continue
            wanted = {"title": entry.title, "description": entry.description,
                      "requires_approval": entry.requires_approval}
            changed = [k for k, v in wanted.items() if getattr(prompt, k) != v]
            if entry.owners is not None and sorted(u.email for u in prompt.owners.all()) != sorted(entry.owners):
                wanted["owners"] = _owners(entry.owners)
                changed.append("owners")
            if changed:
                applier.attempt(entry.path, lambda p=prompt, w=wanted: services_prompts.update_prompt(
                    actor=actor, prompt=p, **w))
                applier.note("changed", "prompt", entry.slug, changed)
        _apply_versions(prompt, entry, applier)


def _apply_versions(prompt: PromptApi, entry: PromptEntry, applier: _Applier) -> None:
    actor = applier.actor
    stored = {v.number: v for v in prompt.versions.select_related("alias")}
    if len(stored) > len(entry.versions):
        applier.reader.problem(f"{entry.path}.versions", f"{entry.slug} has {len(stored)} versions and the file "
                                                         f"lists {len(entry.versions)}: versions are never removed")
        return
    for number, wanted in enumerate(entry.versions, start=1):
        version = stored.get(number)
        if version is not None and _content(version) != wanted.content():
            state = "published" if version.status != VersionStatus.DRAFT else "a draft"
            applier.reader.problem(wanted.path, f"version {number} of {entry.slug} is {state} and differs from the "
                                                "file: add the change as a new version")
            continue
        if version is None:
            version = applier.attempt(wanted.path, lambda w=wanted: services_prompts.add_version(
                actor=actor, prompt=prompt, template=w.template, alias=ModelAlias.objects.filter(name=w.model).first()
                or w.model, system_prompt=w.system_prompt, variables=w.variables, temperature=w.temperature,
                max_tokens=w.max_tokens, note=w.note))
            if version is None:
                continue
            applier.note("created", "prompt version", f"{entry.slug}@{number}")
        if wanted.published and version.status == VersionStatus.DRAFT:
            change = applier.attempt(wanted.path, lambda v=version: services_prompts.publish(
                actor=actor, prompt=prompt, version=v))
            applier.note("requested" if isinstance(change, PromptChange) else "changed", "prompt version",
                         f"{entry.slug}@{number}", ["published"])
    labels = {label.name: label.version.number for label in PromptLabel.objects.filter(prompt=prompt)
              .select_related("version")}
    for label, number in entry.labels.items():
        if labels.get(label) == number:
            continue
        version = prompt.versions.filter(number=number).first()
        if version is None or not version.is_published:
            applier.reader.problem(f"{entry.path}.labels.{label}", f"version {number} is not published yet "
                                                                   "(it may be waiting for approval)")
            continue
        moved = applier.attempt(f"{entry.path}.labels.{label}", lambda n=label, v=version: services_prompts.move_label(
            actor=actor, prompt=prompt, label=n, version=v))
        applier.note("requested" if isinstance(moved, PromptChange) else "changed", "prompt label",
                     f"{entry.slug}@{label}", [f"→ {number}"])


def export_prompts() -> list[dict[str, Any]]:
    """Every prompt API as a ``prompts:`` entry (``read_prompts`` reads it back to the same prompt)."""
    out = []
    for prompt in PromptApi.objects.select_related("tenant").prefetch_related("owners").order_by("slug"):
        entry: dict[str, Any] = {"slug": prompt.slug, "title": prompt.title, "team": prompt.tenant.slug}
        if prompt.description:
            entry["description"] = prompt.description
        entry["owners"] = sorted(u.email for u in prompt.owners.all())
        if prompt.requires_approval:
            entry["requires_approval"] = True
        entry["versions"] = []
        for version in prompt.versions.select_related("alias").order_by("number"):
            item: dict[str, Any] = {"model": version.alias.name, "template": version.template}
            if version.system_prompt:
                item["system_prompt"] = version.system_prompt
            if version.variables:
                item["variables"] = version.variables
            if version.temperature is not None:
                item["temperature"] = float(version.temperature)
            if version.max_tokens is not None:
                item["max_tokens"] = version.max_tokens
            if version.note:
                item["note"] = version.note
            if not version.is_published:
                item["published"] = False
            entry["versions"].append(item)
        labels = {label.name: label.version.number for label in prompt.labels.select_related("version")}
        if labels:
            entry["labels"] = dict(sorted(labels.items()))
        out.append(entry)
    return out
