"""One bounded schemathesis run of the CLI against the real server, as the API fuzzing tests use it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.test import Client


def run_schemathesis(server_url: str, user, token: str, workdir: Path, *, paths: str, checks: str,
                     examples: int, seed: int) -> subprocess.CompletedProcess:
    """Fetch the schema as ``user`` sees it, then fuzz ``paths`` with ``token``: fixed seed, no shrinking.

    The examples and fuzzing phases only (coverage and stateful are much longer); reports stay in ``workdir``.
    """
    browser = Client()
    browser.force_login(user)
    schema = workdir / "openapi.json"
    schema.write_bytes(browser.get("/api/schema/", HTTP_ACCEPT="application/json").content)
    return run_schemathesis_on(schema, server_url, token, workdir, paths=paths, checks=checks, examples=examples,
                               seed=seed)


def run_schemathesis_on(schema: Path, server_url: str, token: str, workdir: Path, *, paths: str, checks: str,
                        examples: int, seed: int) -> subprocess.CompletedProcess:
    """Fuzz ``paths`` of the document in ``schema`` with ``token``, as ``run_schemathesis`` does."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "st"), "run", str(schema), "--url", server_url,
         "--checks", checks, "--phases", "examples,fuzzing",
         "--include-path-regex", paths, "--max-examples", str(examples), "--seed", str(seed),
         "--no-shrink", "--generation-database", "none", "--workers", "1", "--request-timeout", "10",
         "--header", f"Authorization: Bearer {token}", "--no-color", "--warnings", "off"],
        capture_output=True, text=True, timeout=300, cwd=workdir,
    )
