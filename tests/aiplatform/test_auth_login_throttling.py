"""Login throttling: after the configured failures, allauth refuses further attempts on the form.

allauth 65 counts failures per IP and per login (``ACCOUNT_RATE_LIMITS["login_failed"]``)
and, once the budget is spent, answers the login form with a form error (HTTP 200), not a
429 page -- even for the right password, so guessing cannot continue.
"""

import pytest
from django.conf import settings

from aiplatform.models import AuditEvent
from tests.conftest import PASSWORD

THROTTLED = "Too many failed login attempts. Try again later."


def _allowed_failures() -> int:
    # "5/5m/ip,5/5m/key" -> 5
    return min(int(rule.split("/")[0]) for rule in settings.ACCOUNT_RATE_LIMITS["login_failed"].split(","))


@pytest.mark.smoke
def test_after_the_allowed_failures_even_the_right_password_is_refused(client, make_user):
    make_user("dana@example.com")
    for _ in range(_allowed_failures()):
        response = client.post("/accounts/login/", {"login": "dana@example.com", "password": "wrong-password-1"})
        assert THROTTLED not in response.text

    response = client.post("/accounts/login/", {"login": "dana@example.com", "password": PASSWORD})

    assert response.status_code == 200
    assert THROTTLED in response.text
    assert not response.wsgi_request.user.is_authenticated
    assert AuditEvent.objects.filter(action="security.login_throttled").count() == 1


def test_a_successful_login_before_the_limit_does_not_spend_the_budget(client, make_user):
    make_user("dana@example.com")
    for _ in range(_allowed_failures() - 1):
        client.post("/accounts/login/", {"login": "dana@example.com", "password": "wrong-password-1"})

    response = client.post("/accounts/login/", {"login": "dana@example.com", "password": PASSWORD})

    assert response.status_code == 302
    assert response.wsgi_request.user.is_authenticated
