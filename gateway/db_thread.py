"""ORM work from the gateway's event loop: run in a worker thread, with its connection closed when stale
(as Django's request cycle would), so a thread never keeps a broken or expired connection."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections


def in_thread[**P, T](fn: Callable[P, T]) -> Callable[P, Awaitable[T]]:
    """``fn`` as a coroutine function that runs it in a worker thread (not the loop's)."""

    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        finally:
            close_old_connections()

    return sync_to_async(run, thread_sensitive=False)
