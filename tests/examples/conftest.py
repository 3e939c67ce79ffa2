"""The example store's tests use the portal's arrangements: aliases, a team with an approved subscription."""

from tests.portal.conftest import (  # noqa: F401  (fixtures)
    _admins_without_mfa,
    alias,
    app,
    approved,
    developer,
    make_alias,
    model_owner,
    pending,
)
