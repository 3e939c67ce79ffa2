"""Integration tests run against the real ASGI server (fixtures in tests/servers.py, registered in tests/conftest.py)."""

from tests.integration.gateway_setup import fake_upstream, gateway  # noqa: F401  (fixtures)
from tests.integration.routing_setup import upstreams  # noqa: F401  (fixture: the steerable fake upstreams)
