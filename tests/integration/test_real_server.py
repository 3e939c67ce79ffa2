"""The real server (granian, production settings) serves the test database to a plain HTTP client."""

import re

import httpx
import pytest

from aiplatform.models import AuditEvent
from tests.conftest import PASSWORD

pytestmark = pytest.mark.integration


@pytest.mark.smoke
def test_the_real_server_answers_its_probes(server_url):
    assert httpx.get(f"{server_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{server_url}/readyz")
    assert ready.status_code == 200, ready.text


@pytest.mark.smoke
def test_a_member_created_in_the_test_signs_in_over_http(server_url, tenant_a, make_member):
    make_member(tenant_a, email="dana@example.com")
    with httpx.Client(base_url=server_url) as browser:
        form = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)

        response = browser.post(
            "/accounts/login/",
            data={"login": "dana@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token},
            headers={"Referer": f"{server_url}/accounts/login/"},
            follow_redirects=True,
        )

    assert str(response.url) == f"{server_url}/"
    assert "Alpha" in response.text
    assert response.headers["x-request-id"]
    assert AuditEvent.objects.filter(action="auth.login", actor_label="dana@example.com").exists()


def test_each_test_starts_with_an_empty_database(server_url):
    with httpx.Client(base_url=server_url) as browser:
        form = browser.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        response = browser.post(
            "/accounts/login/", data={"login": "dana@example.com", "password": PASSWORD, "csrfmiddlewaretoken": token}
        )

    assert "not correct" in response.text
