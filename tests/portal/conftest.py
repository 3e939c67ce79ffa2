"""Portal fixtures: a model alias with an owner, a team's developer and application, made through services."""

from __future__ import annotations

import pytest

from aiplatform.roles import PlatformRole, TenantRole
from portal import services
from registry import services as registry_services
from registry.models import AliasStatus, Provider


@pytest.fixture(autouse=True)
def _admins_without_mfa(settings):
    """Pages are tested with plain sign-in; the MFA requirement has its own tests in the core."""
    settings.REQUIRE_ADMIN_MFA = False


@pytest.fixture
def model_owner(make_user):
    return make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)


@pytest.fixture
def make_alias(db):
    def make(name: str = "fast-chat", *, owners=(), status: str = AliasStatus.APPROVED, kind: str = "chat"):
        provider = Provider.objects.filter(name="acme").first() or registry_services.create_provider(
            actor=None, name="acme", kind="openai-compatible", base_url="http://127.0.0.1:9/v1")
        endpoint = registry_services.create_endpoint(actor=None, provider=provider, upstream_model=f"{name}-upstream",
                                                     capabilities=[kind])
        alias = registry_services.create_alias(actor=None, name=name, kind=kind, status=status, owners=list(owners))
        registry_services.set_routes(actor=None, alias=alias, routes=[registry_services.RouteSpec(endpoint=endpoint)])
        return alias

    return make


@pytest.fixture
def alias(make_alias, model_owner):
    return make_alias("fast-chat", owners=[model_owner])


@pytest.fixture
def developer(tenant_a, make_member):
    return make_member(tenant_a, TenantRole.DEVELOPER, email="dev@example.com")


@pytest.fixture
def app(tenant_a, developer):
    return services.create_application(actor=developer, tenant=tenant_a, name="checkout-bot")


@pytest.fixture
def pending(app, alias, developer):
    return services.request_subscription(actor=developer, application=app, alias=alias, use_case="Summarise tickets")


@pytest.fixture
def approved(pending, model_owner):
    return services.approve_subscription(actor=model_owner, subscription=pending, comment="Fine")


@pytest.fixture
def api_key(app, developer, approved):
    key, secret = services.create_api_key(actor=developer, application=app)
    key.secret = secret  # for the test only; never stored
    return key


@pytest.fixture
def token_for():
    """A personal access token's Authorization header for ``user``."""

    def make(user) -> dict[str, str]:
        _, secret = services.create_personal_access_token(user=user, name="tests")
        return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}

    return make
