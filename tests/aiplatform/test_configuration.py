"""Configuration from the environment: each case loads the settings in a fresh interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
print(json.dumps({
    "engine": settings.DATABASES["default"]["ENGINE"],
    "journal": settings.DATABASES["default"].get("OPTIONS", {}).get("init_command", ""),
    "cache": settings.CACHES["default"]["BACKEND"],
    "channels": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "broker": settings.CELERY_BROKER_URL,
    "debug": settings.DEBUG,
    "hosts": settings.ALLOWED_HOSTS,
    "ssl_redirect": settings.SECURE_SSL_REDIRECT,
}))
"""


def load_settings(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}  # none of our settings
    clean.update({"DJANGO_SETTINGS_MODULE": "aiplatform.settings", "DATA_DIR": str(tmp_path), **env})
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60)


def loaded(tmp_path: Path, **env: str) -> dict:
    result = load_settings(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.smoke
def test_no_variables_give_the_embedded_mode(tmp_path):
    config = loaded(tmp_path)
    assert config["engine"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in config["journal"]
    assert config["cache"].endswith("LocMemCache")
    assert config["channels"].endswith("InMemoryChannelLayer")
    assert config["broker"] == "filesystem://"
    assert config["debug"] is False and config["ssl_redirect"] is True
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0  # generated, private


def test_database_and_redis_urls_give_the_full_stack(tmp_path):
    config = loaded(
        tmp_path, DATABASE_URL="postgres://sb:pw@db.internal:5432/switchboard", REDIS_URL="redis://cache.internal:6379/0"
    )
    assert config["engine"] == "django.db.backends.postgresql"
    assert config["cache"].endswith("RedisCache")
    assert config["channels"] == "channels_redis.core.RedisChannelLayer"
    assert config["broker"] == "redis://cache.internal:6379/0"


CONCURRENT_WRITERS = """
import threading, time, django
from django.db import connection, transaction
django.setup()
from django.db import connections
with connection.cursor() as cursor:
    cursor.execute("CREATE TABLE counter (n INTEGER)")
    cursor.execute("INSERT INTO counter VALUES (0)")
failures = []

def add_one():
    try:
        for _ in range(5):
            with transaction.atomic():  # read, then write: the shape of a claim (select_for_update, then save)
                with connections["default"].cursor() as cursor:
                    cursor.execute("SELECT n FROM counter")
                    n = cursor.fetchone()[0]
                    time.sleep(0.01)
                    cursor.execute("UPDATE counter SET n = %s", [n + 1])
    except Exception as exc:
        failures.append(repr(exc))
    finally:
        connections.close_all()

threads = [threading.Thread(target=add_one) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
with connection.cursor() as cursor:
    cursor.execute("SELECT n FROM counter")
    print(failures or cursor.fetchone()[0])
"""


@pytest.mark.parametrize("url", [None, "sqlite:///{dir}/given.sqlite3"])
def test_concurrent_writers_on_sqlite_queue_instead_of_failing(tmp_path, url):
    """The embedded database and a sqlite:// DATABASE_URL alike: transactions that read then write, from several
    connections at once, all commit (found when a test server given a sqlite:// URL answered batch lines with
    "database is locked")."""
    env = {"DJANGO_SETTINGS_MODULE": "aiplatform.settings", "DATA_DIR": str(tmp_path)}
    if url:
        env["DATABASE_URL"] = url.format(dir=tmp_path)
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    result = subprocess.run([sys.executable, "-c", CONCURRENT_WRITERS], cwd=ROOT, env={**clean, **env},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "20"  # every increment, none lost, none refused


def test_lists_and_booleans_are_parsed(tmp_path):
    config = loaded(tmp_path, ALLOWED_HOSTS="portal.example.com,api.example.com", DEBUG="true", HTTPS_ONLY="false")
    assert config["hosts"] == ["portal.example.com", "api.example.com"]
    assert config["debug"] is True and config["ssl_redirect"] is False


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mongodb://nope"),
        ("REDIS_URL", "localhost:6379"),
        ("DB_CONN_MAX_AGE", "forever"),
        ("LOG_FORMAT", "xml"),
        ("EMAIL_URL", "pigeon://coop"),
        ("OIDC_SERVER_URL", "https://sso.example.com"),
    ],
)
def test_a_malformed_variable_stops_startup_naming_it(tmp_path, variable, value):
    result = load_settings(tmp_path, **{variable: value})
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line and variable in last_line
    assert "Traceback" in result.stderr  # the process refuses to start; the last line says why


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update(
        DJANGO_SETTINGS_MODULE="aiplatform.settings",
        DATA_DIR=str(tmp_path),
        SECRET_KEY="x" * 64 + "production-secret-from-the-vault",
        ALLOWED_HOSTS="switchboard.example.com",
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
