"""The sign-in page does not invite people to a sign-up that is closed; it says accounts come by invitation."""

from __future__ import annotations

import pytest
from django.test import override_settings


@pytest.mark.smoke
@override_settings(SIGNUP_ALLOWED_DOMAINS=[])
def test_sign_up_closed_the_page_says_invitation(client, db):
    page = client.get("/accounts/login/").text

    assert "sign up" not in page.lower().replace("sign up closed", "")
    assert "Accounts are by invitation" in page
    assert "/accounts/signup/" not in page


@override_settings(SIGNUP_ALLOWED_DOMAINS=["corp.example"])
def test_with_allowed_domains_it_says_which(client, db):
    page = client.get("/accounts/login/").text

    assert "corp.example" in page
    assert 'href="/accounts/signup/"' in page


def test_the_login_form_has_labelled_fields_and_a_named_button(client, db):
    page = client.get("/accounts/login/").text

    assert 'name="login"' in page
    assert 'type="submit"' in page
