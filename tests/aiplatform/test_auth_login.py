"""Signing in with e-mail and password."""

import pytest

from aiplatform.models import AuditEvent
from tests.conftest import PASSWORD


@pytest.mark.smoke
def test_a_member_signs_in_and_lands_on_their_teams(client, tenant_a, make_member):
    make_member(tenant_a, email="dana@example.com")

    response = client.post("/accounts/login/", {"login": "dana@example.com", "password": PASSWORD}, follow=True)

    assert response.redirect_chain[-1][0] == "/"
    assert response.wsgi_request.user.email == "dana@example.com"
    assert "Your teams" in response.text
    assert "Alpha" in response.text
    assert AuditEvent.objects.filter(action="auth.login", actor_label="dana@example.com").exists()


@pytest.mark.smoke
def test_a_wrong_password_gives_a_form_error_and_is_audited_without_the_password(client, make_user):
    make_user("dana@example.com")

    response = client.post("/accounts/login/", {"login": "dana@example.com", "password": "Guessed-Wrong-42"})

    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in response.text
    assert not response.wsgi_request.user.is_authenticated
    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.changes == {"login": "dana@example.com"}
    stored = " ".join(str(getattr(event, f.attname)) for f in AuditEvent._meta.fields)
    assert "Guessed-Wrong-42" not in stored
