"""Platform admins must enrol a TOTP authenticator before using the site (REQUIRE_ADMIN_MFA)."""

import time

import pytest
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import SECRET_SESSION_KEY, format_hotp_value, hotp_value
from django.test import override_settings

from aiplatform.models import AuditEvent
from tests.conftest import PASSWORD

ENROL = "/accounts/2fa/totp/activate/"


def sign_in(client, email):
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.text
    return response


def confirm_password(client):
    """allauth asks for the password again before an authenticator is added, even right after login."""
    page = client.get(ENROL)
    assert page["Location"].startswith("/accounts/reauthenticate/")
    response = client.post(page["Location"], {"password": PASSWORD})
    assert response["Location"] == ENROL


def current_code(secret: str) -> str:
    if time.time() % mfa_settings.TOTP_PERIOD > mfa_settings.TOTP_PERIOD - 2:
        time.sleep(2)  # do not hand over a code that expires before the server checks it
    return format_hotp_value(hotp_value(secret, int(time.time()) // mfa_settings.TOTP_PERIOD))


@override_settings(REQUIRE_ADMIN_MFA=True)
def test_an_admin_without_totp_is_sent_to_enrol_and_reaches_home_after_enrolling(
    client, platform_admin, django_capture_on_commit_callbacks
):
    sign_in(client, platform_admin.email)

    assert client.get("/")["Location"] == ENROL
    confirm_password(client)
    page = client.get(ENROL)
    assert page.status_code == 200
    secret = client.session[SECRET_SESSION_KEY]

    with django_capture_on_commit_callbacks(execute=True):  # allauth signals the enrolment on commit
        enrolled = client.post(ENROL, {"code": current_code(secret)})

    assert enrolled.status_code == 302
    assert Authenticator.objects.filter(user=platform_admin, type=Authenticator.Type.TOTP).exists()
    assert AuditEvent.objects.filter(action="auth.mfa_enrol", actor=platform_admin).exists()
    home = client.get("/")
    assert home.status_code == 200
    assert "Your teams" in home.text


@override_settings(REQUIRE_ADMIN_MFA=True)
def test_a_wrong_code_does_not_enrol_and_the_admin_stays_fenced(client, platform_admin):
    sign_in(client, platform_admin.email)
    confirm_password(client)
    client.get(ENROL)

    response = client.post(ENROL, {"code": "000000"})

    assert response.status_code == 200
    assert "Incorrect code." in response.text
    assert client.get("/")["Location"] == ENROL


@pytest.mark.smoke
@override_settings(REQUIRE_ADMIN_MFA=True)
def test_a_non_admin_is_never_sent_to_enrol(client, tenant_a, make_member):
    member = make_member(tenant_a)
    sign_in(client, member.email)

    response = client.get("/")

    assert response.status_code == 200
    assert "Alpha" in response.text


@override_settings(REQUIRE_ADMIN_MFA=False)
def test_with_the_requirement_off_an_admin_goes_straight_home(client, platform_admin):
    sign_in(client, platform_admin.email)

    assert client.get("/").status_code == 200
