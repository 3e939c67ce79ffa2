"""The real server for integration and browser tests: ``bin/serve`` (granian) on a loopback port.

The server is a subprocess started once per test session (per xdist worker) against the
*test* database pytest-django created, and the same Redis as the test process. Tests see it
through the ``server_url`` fixture, which also asks for ``transactional_db``: what a test
writes is committed, so the server sees it, and it is flushed after the test, so the next
test starts empty. Anything the server keeps in memory between requests (for example the
gateway's caches) must therefore be invalidated the way production invalidates it.

Use it from a conftest with ``from tests.servers import real_server, server_url  # noqa: F401``.
``start_server(env=...)`` is the same thing as a context manager, for a server with its own
settings (extra environment variables) in a single test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from django.db import connections

BASE_DIR = Path(__file__).resolve().parent.parent
WORKER_COMMAND = [sys.executable, "-m", "celery", "-A", "aiplatform", "worker", "--pool", "solo", "--loglevel",
                  "WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
STARTUP_TIMEOUT = 60  # seconds until /healthz must answer (collectstatic runs before)


def skip_or_fail(reason: str) -> None:
    """Skip locally; on CI (``CI`` set) a missing prerequisite is a failure, never a silent skip."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)", pytrace=False)
    pytest.skip(reason)


@dataclass(frozen=True)
class RealServer:
    base_url: str
    data_dir: Path
    log_path: Path
    process: subprocess.Popen
    worker: subprocess.Popen | None = None
    env: dict[str, str] | None = None  # the environment the server and its worker run with

    def start_worker(self) -> subprocess.Popen:
        """Another Celery worker beside the server (as ``make run`` starts one), e.g. after a test killed one."""
        with self.log_path.open("ab") as log:
            return subprocess.Popen(WORKER_COMMAND, cwd=BASE_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def log(self) -> str:
        """What the server and its worker printed so far (JSON log lines, e-mails on the console backend)."""
        return self.log_path.read_text(errors="replace")


def database_url_for_server() -> str:
    """A DATABASE_URL for the test database of the running session (not the configured one)."""
    db = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        if connections["default"].is_in_memory_db():
            skip_or_fail(
                "the real server cannot share an in-memory SQLite test database: run with DATABASE_URL "
                "(PostgreSQL), or give the SQLite test database a file name (DATABASES['default']['TEST']['NAME'])"
            )
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = quote(db["USER"] or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{'@' if credentials else ''}{host}{port}/{quote(db['NAME'], safe='')}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(data_dir: Path, port: int, extra: dict[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    for inherited in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "DJANGO_SETTINGS_MODULE"):
        env.pop(inherited, None)
    env.update(
        DJANGO_SETTINGS_MODULE="aiplatform.settings",  # the production settings, not tests.settings
        DATABASE_URL=database_url_for_server(),
        HTTPS_ONLY="false",
        REQUIRE_ADMIN_MFA="false",
        DATA_DIR=str(data_dir),
        HOST="127.0.0.1",
        PORT=str(port),
        PYTHON=sys.executable,
        LOG_LEVEL="INFO",
        LOG_FORMAT="json",
        # One worker process: a test that checks a change took effect, then expects the next call to see
        # it too, must not land on a second worker still on its previous snapshot (up to one poll
        # interval). Tests of several processes ask for them (WEB_CONCURRENCY, or a second server).
        WEB_CONCURRENCY="1",
    )
    # Secrets the tests store encrypted (a webhook's signing secret) must be readable by the server's worker,
    # as on a multi-host deployment, where every process is given the same keys.
    from django.conf import settings

    env.setdefault("SECRETS_ENCRYPTION_KEYS", ",".join(settings.SECRETS_ENCRYPTION_KEYS))
    # Every server of a session shares the test database, so any of their workers may run a batch another queued
    # (one takes over a batch whose runner is gone): like the hosts of one deployment they share one files storage.
    env.setdefault("FILES_DIR", str(settings.FILES_DIR))
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        env["REDIS_URL"] = redis_url  # the same Redis (and db) as the tests, so throttles and caches agree
    if os.environ.get("CELERY_BROKER_URL"):
        env["CELERY_BROKER_URL"] = os.environ["CELERY_BROKER_URL"]
    env.update(extra or {})
    return env


def _wait_until_healthy(server: RealServer) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n{server.log()[-4000:]}")
        try:
            if httpx.get(server.url("/healthz"), timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer /healthz within {STARTUP_TIMEOUT}s:\n{server.log()[-4000:]}")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextmanager
def start_server(*, env: dict[str, str] | None = None, worker: bool = True) -> Iterator[RealServer]:
    """Run ``bin/serve``, and a Celery worker beside it as ``make run`` does, until the block ends.

    Call it only after the test database exists (from a test or fixture that uses ``db``,
    ``transactional_db`` or ``django_db_setup``). ``env`` adds or overrides environment variables.
    The worker (on the same database and broker) writes what the gateway meters.
    """
    with tempfile.TemporaryDirectory(prefix="switchboard-server-") as tmp:
        data_dir = Path(tmp)
        port = free_port()
        server_env = _server_env(data_dir, port, env)
        log_path = data_dir / "server.log"
        with log_path.open("wb") as log:
            # Pages need the hashed static files the production storage serves, as after `make run`.
            subprocess.run(
                [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
                cwd=BASE_DIR,
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=120,
            )
            process = subprocess.Popen(
                [str(BASE_DIR / "bin" / "serve")],
                cwd=BASE_DIR,
                env=server_env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            background = (
                subprocess.Popen(
                    WORKER_COMMAND,
                    cwd=BASE_DIR,
                    env=server_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
                if worker
                else None
            )
        server = RealServer(base_url=f"http://127.0.0.1:{port}", data_dir=data_dir, log_path=log_path,
                            process=process, worker=background, env=server_env)
        try:
            _wait_until_healthy(server)
            yield server
        finally:
            _stop(process)
            if background is not None:
                _stop(background)


@pytest.fixture(scope="session")
def real_server(django_db_setup) -> Iterator[RealServer]:
    """One real ASGI server for the session, on the test database (see the module docstring)."""
    with start_server() as server:
        yield server


@pytest.fixture
def server_url(transactional_db, real_server) -> str:
    """Base URL of the real server; the test's data is committed, so the server sees it."""
    if real_server.process.poll() is not None:
        pytest.fail(f"the real server died:\n{real_server.log()[-4000:]}")
    if real_server.worker is not None and real_server.worker.poll() is not None:
        pytest.fail(f"the real server's worker died:\n{real_server.log()[-4000:]}")
    return real_server.base_url
