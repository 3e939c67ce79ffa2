"""A developer copies the code from a model card, puts in their key, and it answers: the OpenAI SDK, the
Anthropic SDK and curl snippets, as the real server renders them (with its own URL), run as they are."""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command

from aiplatform.models import Tenant
from aiplatform.roles import TenantRole
from tests.integration.test_playground_streaming import signed_in

pytestmark = pytest.mark.integration
PLACEHOLDER = "sb-…your key…"


@pytest.fixture
def card(server_url, make_member) -> str:
    call_command("seed_demo", stdout=StringIO())
    member = make_member(Tenant.objects.get(slug="demo"), TenantRole.DEVELOPER, email="pat@example.com")
    page = signed_in(server_url, member.email).get("/models/demo-chat/")
    assert page.status_code == 200
    return page.text


@pytest.fixture
def key(card) -> str:
    out = StringIO()
    call_command("create_api_key", "--tenant", "demo", "--app", "demo-app", "--models", "demo-chat", "--json",
                 stdout=out)
    return json.loads(out.getvalue())["key"]


def snippet(card: str, kind: str) -> str:
    found = re.search(rf'<code id="snippet-{kind}">(.*?)</code>', card, re.S)
    assert found, f"no {kind} snippet on the card"
    return html.unescape(found.group(1))


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_the_sdk_snippets_answer_with_a_real_key(card, key, server_url, kind):
    code = snippet(card, kind)
    assert server_url in code  # the server's own address, not a placeholder host
    assert PLACEHOLDER in code
    ran = subprocess.run([sys.executable, "-c", code.replace(PLACEHOLDER, key)], capture_output=True, text=True,
                         timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "This is the demo model answering" in ran.stdout


def test_the_curl_snippet_answers_with_a_real_key(card, key):
    ran = subprocess.run(["bash", "-c", snippet(card, "curl")], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "SWITCHBOARD_KEY": key})
    assert ran.returncode == 0, ran.stderr
    assert "This is the demo model answering" in json.loads(ran.stdout)["choices"][0]["message"]["content"]
