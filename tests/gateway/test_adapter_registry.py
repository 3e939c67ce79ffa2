"""Every provider kind has an adapter, and the gateway's modules import without Django."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.providers import ADAPTERS
from gateway.providers.base import PROVIDER_KINDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.smoke
def test_every_provider_kind_has_an_adapter():
    assert (
        set(ADAPTERS)
        == set(PROVIDER_KINDS)
        == {
            "openai",
            "openai-compatible",
            "azure-openai",
            "anthropic",
            "bedrock",
            "sagemaker",
            "gemini",
            "demo",
        }
    )
    for kind, adapter in ADAPTERS.items():
        assert adapter.kind == kind
        assert inspect.iscoroutinefunction(adapter.chat)
        assert inspect.iscoroutinefunction(adapter.embed)
        assert inspect.isasyncgenfunction(adapter.chat_stream) or callable(adapter.chat_stream)


def test_gateway_modules_import_without_django():
    code = (
        "import sys\n"
        "import gateway.providers, gateway.wire.openai, gateway.wire.anthropic, gateway.tokens, gateway.errors\n"
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django was imported'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
