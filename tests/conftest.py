"""Fixtures every test folder shares: people, teams and memberships, made through the services."""

from __future__ import annotations

import itertools

import pytest
from django.core.cache import cache

from aiplatform import services
from aiplatform.models import Tenant, User
from aiplatform.roles import PlatformRole, TenantRole
from tests.servers import real_server, server_url  # noqa: F401  (fixtures: one real server per session)

PASSWORD = "correct-horse-battery-9"
_counter = itertools.count(1)


def _flush_retrying_deadlocks(original):
    """Django's flush after a transactional test, tried again when PostgreSQL broke a deadlock by aborting it.

    The real server's worker may still be writing the ledger or the keys' last use when a test ends; its
    row locks and the flush's TRUNCATE of every table can wait on each other, and PostgreSQL then aborts
    one of them. Aborting the worker's transaction is harmless (it retries); aborting the flush would leave
    the next test a dirty database, so the flush tries again.
    """
    import time

    from django.db import OperationalError

    def flush(self, sql_list):
        for attempt in range(5):
            try:
                return original(self, sql_list)
            except OperationalError as exc:
                if "deadlock detected" not in str(exc) or attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    return flush


def pytest_configure(config):
    from django.db.backends.base.operations import BaseDatabaseOperations

    BaseDatabaseOperations.execute_sql_flush = _flush_retrying_deadlocks(BaseDatabaseOperations.execute_sql_flush)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (Redis in the full run), so throttles do not leak."""
    cache.clear()
    yield


@pytest.fixture
def make_user(db):
    def make(email: str | None = None, *, platform_role: str | None = None, password: str = PASSWORD, **extra) -> User:
        email = email or f"user{next(_counter)}@example.com"
        user = User.objects.create_user(email, password, **extra)
        from allauth.account.models import EmailAddress

        EmailAddress.objects.create(user=user, email=email, verified=True, primary=True)
        if platform_role:
            services.grant_platform_role(actor=None, user=user, role=platform_role)
        return user

    return make


@pytest.fixture
def make_tenant(db):
    def make(slug: str | None = None, **fields) -> Tenant:
        n = next(_counter)
        return services.create_tenant(actor=None, slug=slug or f"team-{n}", name=fields.pop("name", f"Team {n}"), **fields)

    return make


@pytest.fixture
def make_member(make_user):
    def make(tenant: Tenant, role: str = TenantRole.DEVELOPER, email: str | None = None) -> User:
        user = make_user(email)
        services.add_member(actor=None, tenant=tenant, user=user, role=role)
        return user

    return make


@pytest.fixture
def platform_admin(make_user) -> User:
    return make_user("root@example.com", platform_role=PlatformRole.PLATFORM_ADMIN)


@pytest.fixture
def tenant_a(make_tenant) -> Tenant:
    return make_tenant("alpha", name="Alpha")


@pytest.fixture
def tenant_b(make_tenant) -> Tenant:
    return make_tenant("bravo", name="Bravo")
