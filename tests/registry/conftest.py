"""Registry fixtures: providers, endpoints and aliases made through the registry's services."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aiplatform.roles import PlatformRole
from registry import services
from registry.models import AliasStatus, Provider


@pytest.fixture(autouse=True)
def _admins_without_mfa(settings):
    """Pages are tested with plain sign-in; the MFA requirement has its own tests in the core."""
    settings.REQUIRE_ADMIN_MFA = False


@pytest.fixture
def make_provider(db):
    def make(name: str = "acme", kind: str = "openai-compatible", **fields):
        existing = Provider.objects.filter(name=name).first()
        if existing is not None:
            return existing
        fields.setdefault("base_url", "http://127.0.0.1:18080/v1" if kind == "openai-compatible" else "")
        return services.create_provider(actor=None, name=name, kind=kind, **fields)

    return make


@pytest.fixture
def make_endpoint(make_provider):
    def make(provider=None, upstream_model: str = "gpt-4o-mini", **fields):
        fields.setdefault("capabilities", ["chat", "streaming"])
        fields.setdefault("input_price_per_mtok", Decimal("0.15"))
        fields.setdefault("output_price_per_mtok", Decimal("0.60"))
        return services.create_endpoint(actor=None, provider=provider or make_provider(), upstream_model=upstream_model,
                                        **fields)

    return make


@pytest.fixture
def make_alias(make_endpoint):
    def make(name: str = "fast-chat", *, status: str = AliasStatus.APPROVED, endpoint=None, card=None, **fields):
        alias = services.create_alias(actor=None, name=name, status=status, **fields)
        if endpoint is not False:
            kind = fields.get("kind", "chat")
            endpoint = endpoint or make_endpoint(upstream_model=f"{name}-upstream",
                                                 capabilities=[kind, "streaming"] if kind == "chat" else [kind])
            services.set_routes(actor=None, alias=alias, routes=[services.RouteSpec(endpoint=endpoint)])
        if card:
            services.update_card(actor=None, alias=alias, **card)
        alias.refresh_from_db()
        return alias

    return make


@pytest.fixture
def model_owner(make_user):
    return make_user("owner@example.com", platform_role=PlatformRole.MODEL_OWNER)


@pytest.fixture
def admin_client(client, platform_admin):
    client.force_login(platform_admin)
    return client


@pytest.fixture
def employee(make_user):
    return make_user("employee@example.com")


@pytest.fixture
def employee_client(client, employee):
    client.force_login(employee)
    return client
