"""The seed makes a second demo account, the demo models' owner, so a request can be approved by someone else."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from aiplatform.models import Membership, User
from aiplatform.roles import PlatformRole
from registry.models import ModelAlias


@pytest.mark.smoke
@pytest.mark.django_db
def test_the_owner_is_seeded_owns_the_demo_models_and_its_password_is_printed_once(capsys, monkeypatch):
    monkeypatch.delenv("DEMO_OWNER_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out

    owner = User.objects.get(email="owner@example.com")
    printed = first.split("owner@example.com / password: ")[1].split()[0]
    assert owner.check_password(printed)
    assert PlatformRole.MODEL_OWNER in owner.platform_roles
    assert set(ModelAlias.objects.filter(owners=owner).values_list("name", flat=True)) == {"demo-chat", "demo-embed"}
    assert not Membership.objects.filter(user=owner).exists()  # outside the team whose requests it decides
    assert printed not in second
    assert "owner@example.com exists; password unchanged" in second


@pytest.mark.django_db
def test_the_owners_password_comes_from_the_environment_and_is_not_printed(capsys, monkeypatch):
    monkeypatch.setenv("DEMO_OWNER_PASSWORD", "owner-password-from-env-42")

    call_command("seed_demo")

    assert User.objects.get(email="owner@example.com").check_password("owner-password-from-env-42")
    out = capsys.readouterr().out
    assert "owner-password-from-env-42" not in out
    assert "owner@example.com (password from DEMO_OWNER_PASSWORD)" in out


@pytest.mark.django_db
def test_the_admins_request_for_a_demo_model_waits_for_the_owner(capsys):
    from portal import selectors, services
    from portal.models import Environment

    call_command("seed_demo")
    admin = User.objects.get(email="admin@example.com")
    owner = User.objects.get(email="owner@example.com")
    app = services.create_application(actor=admin, tenant=admin.memberships.get().tenant, name="prod-bot",
                                      environment=Environment.PROD)

    sub = services.request_subscription(actor=admin, application=app, alias=ModelAlias.objects.get(name="demo-chat"),
                                        use_case="Answer questions")

    assert sub.status == "pending"
    assert list(selectors.approval_queue(owner)) == [sub]
