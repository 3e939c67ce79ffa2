"""The recommendations' tests use the portal's arrangements: aliases, a team with an application and a key."""

from tests.portal.conftest import (  # noqa: F401  (fixtures)
    _admins_without_mfa,
    alias,
    api_key,
    app,
    approved,
    developer,
    make_alias,
    model_owner,
    pending,
)
