"""Root pytest configuration: settings the whole suite shares, set before Django loads."""

import os

# The test client speaks plain http; HTTPS-only behaviour has its own tests (subprocess settings).
os.environ.setdefault("HTTPS_ONLY", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
