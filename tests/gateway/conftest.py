"""Gateway adapter and wire-format tests: pure Python and loopback upstreams, no database, no Redis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.providers import aws
from gateway.providers.base import UpstreamTarget
from tests.gateway.fake_http import upstream  # noqa: F401  (fixture)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Overrides the suite-wide cache reset: nothing here touches Django's cache."""
    yield


@pytest.fixture(autouse=True)
def _fresh_aws_clients():
    aws.clear_clients()
    yield
    aws.clear_clients()


@pytest.fixture
def make_target() -> Callable[..., UpstreamTarget]:
    def make(kind: str, **fields: Any) -> UpstreamTarget:
        return UpstreamTarget(provider_kind=kind, **fields)

    return make
