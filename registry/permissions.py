"""Who may change the registry. Imported once from ``RegistryConfig.ready``.

Browsing the catalogue and reading cards needs only a signed-in employee. Everything that
changes how models are reached is for platform admins; a card is also editable by the
model owners named on its alias. Guardrail policies are edited by platform admins and read by auditors.
"""

from __future__ import annotations

from aiplatform.permissions import register
from aiplatform.roles import PlatformRole, TenantRole


def _admin_or_owner_of(user, obj) -> bool:
    """``obj`` is a ModelAlias or ModelCard; its alias's owners may edit its card."""
    if user.is_platform_admin:
        return True
    alias = getattr(obj, "alias", obj)
    return alias is not None and alias.owners.filter(pk=user.pk).exists()


def _admin_or_prompt_owner(user, prompt) -> bool:
    return user.is_platform_admin or (prompt is not None and prompt.owners.filter(pk=user.pk).exists())


register("provider.manage")  # platform admins only
register("endpoint.manage")  # platform admins only
register("alias.manage")  # platform admins only: create, routes, lifecycle, owners
register("catalogue.sync")  # platform admins only: run a vendor sync, dismiss candidates
register("registry.apply")  # platform admins only: registry as code
register("policy.manage")  # platform admins only: guardrail policies
register("policy.view", platform_roles=(PlatformRole.AUDITOR,))  # read policies and their history
register("prompt.create", tenant_role=TenantRole.DEVELOPER)  # a team's developers publish its prompt APIs
register("prompt.manage", tenant_role=TenantRole.DEVELOPER, also=_admin_or_prompt_owner)  # versions, labels
register("card.edit", platform_roles=(PlatformRole.MODEL_OWNER,), also=_admin_or_owner_of)
