"""A forged form post (no valid CSRF token) is refused with the 403 page and audited."""

import pytest
from django.test import Client

from aiplatform.models import AuditEvent, Invitation
from aiplatform.roles import TenantRole
from tests.conftest import PASSWORD


@pytest.mark.smoke
def test_a_forged_login_post_gets_the_403_page_and_an_audit_row(make_user):
    make_user("dana@example.com")
    browser = Client(enforce_csrf_checks=True)

    response = browser.post("/accounts/login/", {"login": "dana@example.com", "password": PASSWORD})

    assert response.status_code == 403
    assert "This form could not be accepted" in response.text
    assert not response.wsgi_request.user.is_authenticated
    event = AuditEvent.objects.get(action="security.csrf_failure")
    assert event.actor_label == "anonymous"
    assert event.changes["path"] == "/accounts/login/"


def test_a_forged_post_from_a_signed_in_admin_changes_nothing(tenant_a, make_member):
    admin = make_member(tenant_a, role=TenantRole.ADMIN)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(admin)

    response = browser.post("/teams/alpha/invite", {"email": "eve@example.com", "role": TenantRole.OWNER})

    assert response.status_code == 403
    assert not Invitation.objects.filter(email="eve@example.com").exists()
    assert AuditEvent.objects.get(action="security.csrf_failure").actor == admin
