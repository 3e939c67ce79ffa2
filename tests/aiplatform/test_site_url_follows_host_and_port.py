"""Links in e-mails point where the server listens: SITE_URL defaults from HOST and PORT."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = "import json, django; from django.conf import settings; django.setup(); print(json.dumps(settings.SITE_URL))"


def site_url(tmp_path: Path, **env: str) -> str:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    clean.update({"DJANGO_SETTINGS_MODULE": "aiplatform.settings", "DATA_DIR": str(tmp_path), **env})
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.smoke
def test_host_and_port_make_the_default(tmp_path):
    assert site_url(tmp_path, HOST="127.0.0.1", PORT="8791") == "http://127.0.0.1:8791"


def test_without_them_it_is_make_runs_default(tmp_path):
    assert site_url(tmp_path) == "http://127.0.0.1:8000"


def test_a_wildcard_address_becomes_one_a_browser_opens(tmp_path):
    assert site_url(tmp_path, HOST="0.0.0.0", PORT="9000") == "http://127.0.0.1:9000"


def test_an_ipv6_host_is_bracketed(tmp_path):
    assert site_url(tmp_path, HOST="::1", PORT="9000") == "http://[::1]:9000"


def test_site_url_set_wins(tmp_path):
    assert site_url(tmp_path, HOST="127.0.0.1", PORT="8791", SITE_URL="https://ai.example.com") == "https://ai.example.com"
