"""Who may do what in the example store. Imported once from ``ExamplesConfig.ready``.

Anyone signed in saves their own playground exchanges and votes on or reports what they may see. An example's
author edits and deletes it; a team's admins may also delete their team's examples and clear reports on them.
"""

from __future__ import annotations

from aiplatform.permissions import register
from aiplatform.roles import TenantRole

register("example.moderate", tenant_role=TenantRole.ADMIN)
