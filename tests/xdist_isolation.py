"""Per-worker resources when the suite runs under pytest-xdist (``pytest -n N``).

Worker ``gw0`` keeps the configured Redis databases; worker ``gwN`` moves both (the cache's and the
broker's) ``2*N`` databases down, so with ``make test``'s defaults (15 and 14) ``gw1`` uses 13 and 12.
Each worker also gets ``DATA_DIR/xdist-gwN``: files, the usage journal and the SQLite test database
of the embedded mode are then the worker's own. Everything is set in ``os.environ`` before the
settings are read, so the servers and Celery workers that tests start inherit the same isolation.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REDIS_DATABASES = 16  # Redis's default `databases`


def worker_index() -> int | None:
    """N for xdist worker ``gwN``; None outside xdist (and in the controller process)."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else None


def shifted_redis_url(url: str, shift: int) -> str:
    """``url`` on the database ``shift`` below its own (wrapping at Redis's 16)."""
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - shift) % REDIS_DATABASES}"))


def isolate_this_worker() -> None:
    index = worker_index()
    if index is None:
        return
    if os.environ.get("_SWITCHBOARD_XDIST_ISOLATED") == str(index):
        return  # already done in this process (or inherited by a subprocess of this worker)
    os.environ["_SWITCHBOARD_XDIST_ISOLATED"] = str(index)
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if index and url.startswith("redis"):
            os.environ[name] = shifted_redis_url(url, 2 * index)
    base = Path(os.environ.get("DATA_DIR") or Path(__file__).resolve().parent.parent / "var")
    data_dir = base / f"xdist-gw{index}"
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["DATA_DIR"] = str(data_dir)
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if index and broker.startswith("redis"):
        # Messages an interrupted run left in this worker's broker database would reach this run's workers
        # (bin/run-tests empties only the configured one).
        import redis

        redis.Redis.from_url(broker, socket_connect_timeout=3).flushdb()
