"""Settings for the test suite: the real settings, with the two defaults tests need.

The test client speaks plain http (HTTPS-only behaviour is tested in subprocesses with the
production defaults), and logs stay quiet unless a test asks.
"""

import os

os.environ.setdefault("HTTPS_ONLY", "false")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The tests' webhook receivers listen on loopback, which production refuses unless an operator allows it.
os.environ.setdefault("WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128")

# Under pytest-xdist each worker gets Redis databases and a DATA_DIR of its own (pytest-django already
# gives it its own test database): tests empty the cache between tests, and the real servers they start
# inherit these, so one worker's flushes, throttles and queued tasks never reach the other's.
from tests.xdist_isolation import isolate_this_worker  # noqa: E402

isolate_this_worker()

from aiplatform.settings import *  # noqa: E402,F403

# Tests render templates without running collectstatic first.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}  # noqa: F405

# A file, not memory, so the real server started by tests/servers.py can share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}  # noqa: F405

# Django's flush (after each transactional test) empties every table in one TRUNCATE, which the
# audit trail's trigger refuses unless the session opts in (aiplatform/migrations/0004).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c switchboard.allow_audit_truncate=on"  # noqa: F405
