"""Every change to a guardrail policy goes through one of these functions.

As the registry's other services (``registry.services``): keyword-only, the permission checked first
(``policy.manage``; ``actor=None`` is the system), one transaction, one audit event per change with its
before and after, and the ``registry`` config version bumped so gateways reload their policies. A change of
the document makes a new version (``PolicyVersion``); the description and enabling do not (they never change
what a version does), and a change that changes nothing records nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from aiplatform.audit import record_event
from aiplatform.models import Tenant, User
from registry.models import ModelAlias, Policy, PolicyVersion
from registry.policy_document import PolicyDocumentInvalid, canonical
from registry.services import _changed_registry, _service


def unknown_names(document: dict, *, aliases: set[str] | None = None, tenants: set[str] | None = None,
                  ) -> list[tuple[str, str]]:
    """The (path, message) of each alias or team a canonical document names that does not exist.

    ``aliases``/``tenants``: the names that exist; None reads them from the database (only those named).
    """
    applies_to = document.get("applies_to", {})
    named_aliases, named_teams = applies_to.get("aliases", []), applies_to.get("tenants", [])
    if aliases is None:
        aliases = set(ModelAlias.objects.filter(name__in=named_aliases).values_list("name", flat=True)) \
            if named_aliases else set()
    if tenants is None:
        tenants = set(Tenant.objects.filter(slug__in=named_teams).values_list("slug", flat=True)) \
            if named_teams else set()
    problems = []
    if missing := [a for a in named_aliases if a not in aliases]:
        problems.append(("applies_to.aliases", f"no model {', '.join(missing)}"))
    if missing := [t for t in named_teams if t not in tenants]:
        problems.append(("applies_to.tenants", f"no team {', '.join(missing)}"))
    return problems


def clean_document(document: Any) -> dict:
    """The canonical form of ``document`` when it is valid and names existing models and teams.

    Refusals are a ``ValidationError`` on ``document`` whose messages name their paths.
    """
    try:
        cleaned = canonical(document)
    except PolicyDocumentInvalid as exc:
        raise ValidationError({"document": exc.messages}) from None
    if problems := unknown_names(cleaned):
        raise ValidationError({"document": PolicyDocumentInvalid(problems).messages})
    return cleaned


def _audit(policy: Policy) -> dict[str, Any]:
    return {"name": policy.name, "description": policy.description, "enabled": policy.enabled,
            "version": policy.version, "document": policy.document}


@_service("policy.manage")
def create_policy(*, actor: User | None, name: str, document: Any, description: str = "",
                  enabled: bool = True) -> Policy:
    """Create a policy at version 1 from ``document`` (see ``registry.policy_document``)."""
    policy = Policy(name=name, description=description, enabled=enabled, document=clean_document(document),
                    created_by=actor, updated_by=actor)
    policy.full_clean()
    policy.save()
    PolicyVersion.objects.create(policy=policy, version=1, document=policy.document, created_by=actor)
    record_event(action="policy.create", actor=actor, target=policy, changes=_audit(policy))
    _changed_registry()
    return policy


@_service("policy.manage", on="policy")
def update_policy(*, actor: User | None, policy: Policy, document: Any = None,
                  description: str | None = None) -> Policy:
    """Change the document (a new version when it differs) and/or the description; None leaves one as it is."""
    locked = Policy.objects.select_for_update().get(pk=policy.pk)  # two edits never make the same version
    diff: dict[str, list] = {}
    if document is not None:
        cleaned = clean_document(document)
        if cleaned != locked.document:
            diff["document"] = [locked.document, cleaned]
            diff["version"] = [locked.version, locked.version + 1]
            locked.document, locked.version = cleaned, locked.version + 1
    if description is not None and description != locked.description:
        diff["description"] = [locked.description, description]
        locked.description = description
    if not diff:
        _refresh(policy, locked)
        return policy
    locked.updated_by = actor
    locked.full_clean()
    locked.save()
    if "document" in diff:
        PolicyVersion.objects.create(policy=locked, version=locked.version, document=locked.document,
                                     created_by=actor)
    record_event(action="policy.update", actor=actor, target=locked, changes=diff)
    _changed_registry()
    _refresh(policy, locked)
    return policy


@_service("policy.manage", on="policy")
def set_policy_enabled(*, actor: User | None, policy: Policy, enabled: bool) -> Policy:
    """Enable or disable a policy (its version stays: what it does has not changed)."""
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    if locked.enabled == enabled:
        _refresh(policy, locked)
        return policy
    locked.enabled, locked.updated_by = enabled, actor
    locked.save(update_fields=["enabled", "updated_by", "updated_at"])
    record_event(action="policy.enable" if enabled else "policy.disable", actor=actor, target=locked,
                 changes={"enabled": [not enabled, enabled], "version": locked.version})
    _changed_registry()
    _refresh(policy, locked)
    return policy


@_service("policy.manage", on="policy")
def delete_policy(*, actor: User | None, policy: Policy) -> None:
    """Remove a policy and its versions; the audit trail keeps what it was."""
    record_event(action="policy.delete", actor=actor, target=policy, changes=_audit(policy))
    policy.delete()
    _changed_registry()


def _refresh(policy: Policy, saved: Policy) -> None:
    """Make the caller's instance what was saved."""
    for field in ("description", "enabled", "version", "document", "updated_at", "updated_by_id"):
        setattr(policy, field, getattr(saved, field))
