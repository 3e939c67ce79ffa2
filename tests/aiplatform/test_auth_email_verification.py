"""E-mail verification is mandatory: an account cannot be used until its address is proven."""

import re

import pytest
from django.core import mail
from django.test import Client, override_settings

from aiplatform.models import User

NEW_PASSWORD = "Sturdy-Lantern-2048"


def confirmation_link(message) -> str:
    return re.search(r"http://testserver(/accounts/confirm-email/[^\s]+/)", message.body).group(1)


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=["corp.example"])
def test_an_unverified_user_cannot_sign_in_until_they_follow_the_e_mailed_link(db):
    Client().post(
        "/accounts/signup/", {"email": "erin@corp.example", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    later = Client()

    refused = later.post("/accounts/login/", {"login": "erin@corp.example", "password": NEW_PASSWORD})

    assert refused.status_code == 302
    assert refused["Location"] == "/accounts/confirm-email/"
    assert not refused.wsgi_request.user.is_authenticated
    link = confirmation_link(mail.outbox[-1])
    later.post(link)
    assert User.objects.get(email="erin@corp.example").emailaddress_set.get().verified

    response = later.post("/accounts/login/", {"login": "erin@corp.example", "password": NEW_PASSWORD}, follow=True)

    assert response.wsgi_request.user.is_authenticated
    assert "Your teams" in response.text
