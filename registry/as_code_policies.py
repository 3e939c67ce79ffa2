"""The ``policies:`` section of a registry file: guardrail policies beside the models they govern.

Each entry is a policy's document (``registry.policy_document``) with its ``name`` and, optionally, a
``description`` and ``enabled: false``::

    policies:
      - name: pii-basic
        description: "Mask e-mail addresses, block cards"
        applies_to: {aliases: [fast-chat]}
        input:
          - {detector: email, action: mask}
          - {detector: payment_card, action: block}
        output:
          - {detector: email, action: mask}
        unmask_output: true

Applied after the models (a policy may name an alias the same file creates), through
``registry.services_policies``: a policy whose document is unchanged makes no new version, so applying a
file twice, or applying an export, changes nothing. Without ``policies:`` in the file the policies are left
as they are (as ``owners`` and ``card`` are); ``prune`` with ``policies:`` removes those the file does not name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug

from registry import services_policies
from registry.models import Policy
from registry.policy_document import DOCUMENT_KEYS, PolicyDocumentInvalid, canonical

if TYPE_CHECKING:
    from registry.as_code import _Applier, _Reader

POLICY_KEYS = {"name", "description", "enabled", *DOCUMENT_KEYS}
_NAME_MAX_LENGTH = Policy._meta.get_field("name").max_length
_DESCRIPTION_MAX_LENGTH = Policy._meta.get_field("description").max_length


@dataclass
class PolicyEntry:
    name: str
    path: str
    description: str
    enabled: bool
    document: dict[str, Any]  # canonical


def read_policies(doc: dict, reader: _Reader) -> list[PolicyEntry] | None:
    """The file's policies, checked (None: the file has no ``policies:``, so they are not managed)."""
    if "policies" not in doc:
        return None
    entries: list[PolicyEntry] = []
    names: set[str] = set()
    for i, raw in enumerate(reader.items(doc, "policies")):
        path = f"policies[{i}]"
        obj = reader.mapping(raw, path, POLICY_KEYS)
        if obj is None:
            continue
        name = reader.text(obj, "name", path, required=True)
        if name:
            try:
                validate_slug(name)
                if len(name) > _NAME_MAX_LENGTH:
                    raise ValidationError(f"at most {_NAME_MAX_LENGTH} characters")
            except ValidationError as exc:
                reader.problem(f"{path}.name", exc.messages[0])
                name = ""
        if name in names:
            reader.problem(f"{path}.name", f"policy {name!r} is listed twice")
        names.add(name)
        description = reader.text(obj, "description", path)
        if len(description) > _DESCRIPTION_MAX_LENGTH:
            reader.problem(f"{path}.description", f"at most {_DESCRIPTION_MAX_LENGTH} characters")
        enabled = obj.get("enabled", True)
        if not isinstance(enabled, bool):
            reader.problem(f"{path}.enabled", "must be true or false")
        try:
            document = canonical({k: v for k, v in obj.items() if k in DOCUMENT_KEYS})
        except PolicyDocumentInvalid as exc:
            for where, message in exc.problems:
                reader.problem(f"{path}.{where}" if where != "(document)" else path, message)
            continue
        if name:
            entries.append(PolicyEntry(name, path, description, enabled is not False, document))
    return entries


def check_policy_names(entries: list[PolicyEntry] | None, reader: _Reader, *, aliases: set[str]) -> None:
    """The aliases and teams the policies name must exist (``aliases``: the file's and, unless pruning, the
    registry's)."""
    for entry in entries or ():
        for where, message in services_policies.unknown_names(entry.document, aliases=aliases):
            reader.problem(f"{entry.path}.{where}", message)


def apply_policies(entries: list[PolicyEntry] | None, applier: _Applier, *, prune: bool) -> None:
    """Create, change, enable or disable (and with ``prune`` remove) policies to match the file."""
    if entries is None:
        return
    actor = applier.actor
    by_name = {p.name: p for p in Policy.objects.all()}
    for entry in entries:
        current = by_name.get(entry.name)
        if current is None:
            if applier.attempt(entry.path, lambda e=entry: services_policies.create_policy(
                    actor=actor, name=e.name, document=e.document, description=e.description,
                    enabled=e.enabled)) is not None:
                applier.note("created", "policy", entry.name)
            continue
        fields = []
        if current.document != entry.document:
            fields.append("document")
        if current.description != entry.description:
            fields.append("description")
        if fields:
            applier.attempt(entry.path, lambda c=current, e=entry: services_policies.update_policy(
                actor=actor, policy=c, document=e.document, description=e.description))
        if current.enabled != entry.enabled:
            fields.append("enabled")
            applier.attempt(entry.path, lambda c=current, e=entry: services_policies.set_policy_enabled(
                actor=actor, policy=c, enabled=e.enabled))
        if fields:
            applier.note("changed", "policy", entry.name, fields)
    if prune:
        wanted = {e.name for e in entries}
        for policy in Policy.objects.exclude(name__in=wanted):
            applier.attempt(f"(prune) policy {policy.name}",
                            lambda p=policy: services_policies.delete_policy(actor=actor, policy=p))
            applier.note("removed", "policy", policy.name)


def export_policies() -> list[dict[str, Any]]:
    """Every policy as a ``policies:`` entry (``read_policies`` reads it back to the same policy)."""
    out = []
    for policy in Policy.objects.order_by("name"):
        entry: dict[str, Any] = {"name": policy.name}
        if policy.description:
            entry["description"] = policy.description
        if not policy.enabled:
            entry["enabled"] = False
        entry.update(canonical(policy.document))  # the documented key order (PostgreSQL's jsonb sorts keys)
        out.append(entry)
    return out
