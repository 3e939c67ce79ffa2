"""schemathesis against the gateway's own OpenAPI document (``gateway/openapi.yaml``), on the real server:
whatever a generated request holds, the answer is never a 5xx.

Bounded like the portal's run: a fixed number of examples per operation, a fixed seed, no shrinking. The model
fields are fuzzed too, so most calls end at a 4xx before any upstream; those that name a real alias reach the
fake upstream or the demo model.
"""

from __future__ import annotations

import json
import re

import pytest

from gateway.openapi import document
from tests.portal.schemathesis_run import run_schemathesis_on

pytestmark = pytest.mark.integration

GATEWAY_PATHS = r"^/v1/(responses|completions|chat/completions|messages|embeddings|files|prompts)"
EXAMPLES_PER_OPERATION = 15


def test_the_gateway_answers_every_generated_request_without_a_5xx(server_url, gateway, tmp_path):
    schema = tmp_path / "gateway-openapi.json"
    spec = document()
    schema.write_text(json.dumps({**spec, "servers": [{"url": server_url}]}))
    result = run_schemathesis_on(schema, server_url, gateway.key, tmp_path, paths=GATEWAY_PATHS,
                                 checks="not_a_server_error", examples=EXAMPLES_PER_OPERATION, seed=20261203)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "No issues found" in result.stdout
    tested = re.search(r"Tested: (\d+)", result.stdout)
    assert tested and int(tested.group(1)) >= 15, result.stdout[-3000:]  # every POST and GET of those paths ran
