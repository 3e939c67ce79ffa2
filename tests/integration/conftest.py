"""Integration tests run against the real ASGI server (fixtures in tests/servers.py, registered in tests/conftest.py)."""
