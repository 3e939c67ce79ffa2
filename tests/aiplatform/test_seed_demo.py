import pytest
from django.core.management import call_command

from aiplatform.models import Membership, Tenant, User
from aiplatform.roles import TenantRole


@pytest.mark.smoke
@pytest.mark.django_db
def test_seed_creates_admin_and_demo_team_once(capsys, monkeypatch):
    monkeypatch.delenv("DEMO_ADMIN_PASSWORD", raising=False)
    call_command("seed_demo")
    first = capsys.readouterr().out
    call_command("seed_demo")
    second = capsys.readouterr().out

    admin = User.objects.get(email="admin@example.com")
    assert admin.is_platform_admin and admin.is_staff
    assert Membership.objects.get(user=admin, tenant__slug="demo").role == TenantRole.OWNER
    assert Tenant.objects.filter(slug="demo").count() == 1
    printed_password = first.split("password: ")[1].split()[0]
    assert admin.check_password(printed_password)
    assert "password unchanged" in second and printed_password not in second


@pytest.mark.django_db
def test_seed_takes_the_password_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-password-from-env-42")
    call_command("seed_demo")
    assert User.objects.get(email="admin@example.com").check_password("demo-password-from-env-42")
    assert "demo-password-from-env-42" not in capsys.readouterr().out
