"""OpenID Connect single sign-on: offered on the login page once it is configured."""

import pytest
from django.test import override_settings

SSO = {
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "sso",
                "name": "Company SSO",
                "client_id": "switchboard",
                "secret": "not-a-real-secret",
                "settings": {"server_url": "https://sso.example.com/realms/corp"},
            }
        ]
    }
}


@override_settings(SOCIALACCOUNT_PROVIDERS=SSO)
def test_with_oidc_configured_the_login_page_offers_the_company_sso(client, db):
    response = client.get("/accounts/login/")

    assert "Company SSO" in response.text
    assert 'href="/accounts/oidc/sso/login/' in response.text


@pytest.mark.smoke
@override_settings(SOCIALACCOUNT_PROVIDERS={"openid_connect": {"APPS": []}})
def test_without_oidc_the_login_page_offers_only_the_password(client, db):
    response = client.get("/accounts/login/")

    assert "Company SSO" not in response.text
    assert "/accounts/oidc/" not in response.text


def _settings_in_a_fresh_process(tmp_path, **env):
    """Load the real settings module in a subprocess with the given environment."""
    import json
    import os
    import subprocess
    import sys

    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.SOCIALACCOUNT_PROVIDERS))"
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("OIDC_")}
    base.update(DJANGO_SETTINGS_MODULE="aiplatform.settings", DATA_DIR=str(tmp_path), **env)
    done = subprocess.run([sys.executable, "-c", script], env=base, capture_output=True, text=True, timeout=60)
    return done.returncode, (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else done.stderr)


def test_the_sso_provider_comes_from_the_environment(tmp_path):
    code, providers = _settings_in_a_fresh_process(
        tmp_path,
        OIDC_SERVER_URL="https://sso.example.com/realms/corp",
        OIDC_CLIENT_ID="switchboard",
        OIDC_CLIENT_SECRET="s3cret",
        OIDC_PROVIDER_NAME="Corp Login",
    )

    assert code == 0, providers
    (app,) = providers["openid_connect"]["APPS"]
    assert app["name"] == "Corp Login"
    assert app["settings"]["server_url"] == "https://sso.example.com/realms/corp"


def test_an_sso_server_without_client_credentials_stops_startup_naming_them(tmp_path):
    code, stderr = _settings_in_a_fresh_process(tmp_path, OIDC_SERVER_URL="https://sso.example.com/realms/corp")

    assert code != 0
    assert "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET are required" in stderr
