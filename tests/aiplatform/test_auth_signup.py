"""Sign-up is open only to the company's e-mail domains (or to invitations, see test_invitations_signup)."""

import pytest
from django.core import mail
from django.test import override_settings

from aiplatform.models import AuditEvent, User

NEW_PASSWORD = "Sturdy-Lantern-2048"


def sign_up(client, email):
    return client.post("/accounts/signup/", {"email": email, "password1": NEW_PASSWORD, "password2": NEW_PASSWORD})


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=["corp.example"])
def test_an_address_outside_the_allowed_domains_gets_a_clear_form_error(client, db):
    response = sign_up(client, "mallory@gmail.com")

    assert response.status_code == 200
    assert "Sign-up is limited to company e-mail addresses. Ask a team admin for an invitation." in response.text
    assert not User.objects.filter(email="mallory@gmail.com").exists()


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=["corp.example"])
def test_an_address_of_an_allowed_domain_signs_up_and_is_asked_to_verify_it(client, db):
    response = sign_up(client, "Erin@Corp.Example")

    assert response.status_code == 302
    assert response["Location"] == "/accounts/confirm-email/"
    user = User.objects.get(email="erin@corp.example")
    assert AuditEvent.objects.filter(action="auth.sign_up", actor=user).exists()
    assert mail.outbox[0].to == ["erin@corp.example"]


@override_settings(SIGNUP_ALLOWED_DOMAINS=[])
def test_without_allowed_domains_or_an_invitation_sign_up_is_closed(client, db):
    response = sign_up(client, "erin@corp.example")

    assert response.status_code == 200
    assert "Accounts are by invitation" in response.text
    assert not User.objects.filter(email="erin@corp.example").exists()
