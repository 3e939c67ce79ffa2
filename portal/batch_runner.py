"""The batch runner: a Celery task (queue ``batches``) that drives one batch from validation to its files.

It is a client of the gateway, never a side door: each line goes to ``BATCH_GATEWAY_URL`` + the batch's
endpoint with the line's credential (``gateway.batch_lines``), so it meets the submitting key's
subscriptions, limits, budgets, guardrails, routing and metering, and the gateway records the answer on the
line. The runner only decides *when* to send:

- at most ``BATCH_CONCURRENCY`` lines at a time, and only while the key's rate limits keep more than
  ``1 - BATCH_LIMIT_SHARE`` of their room for live calls (read from the ``x-ratelimit-*`` headers);
- a line refused for now (429 rate limit, a briefly unavailable upstream) is sent again after Retry-After;
- a budget spent stops the lines not sent yet (``budget_exceeded`` in the error file);
- cancel and the completion window are checked between lines.

A runner holds its batch with a lease it renews; killed, its batch is picked up again by the next runner
(``resume_stalled_batches``, on a schedule and when a worker starts), which sends only the lines not
answered yet. A line answered just before the kill is not called again: the gateway replays its answer.
"""

from __future__ import annotations

import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import structlog
from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from gateway.batch_lines import RECORDED_HEADER, line_credential
from portal.models import Batch, BatchLine, BatchStatus, LineState
from portal.services import batches as service

log = structlog.get_logger("switchboard.batches")

CHUNK = 100  # lines read from the database at a time
_MAX_WAIT = 60.0  # seconds: the longest the runner sleeps on one Retry-After or reset
_DURATION = re.compile(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:([\d.]+)s)?(?:(\d+)ms)?$")


def seconds_of(duration: str) -> float:
    """OpenAI's reset durations (``20ms``, ``1s``, ``17.5s``, ``6m0s``, ``1h2m3s``) in seconds; 1 when unreadable."""
    found = _DURATION.match(duration.strip()) if duration else None
    if not found or not any(found.groups()):
        return 1.0
    hours, minutes, secs, ms = found.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(secs or 0) + int(ms or 0) / 1000


class _Pace:
    """How long to wait before the next line, from the last answer's rate-limit headers."""

    def __init__(self) -> None:
        self.not_before = 0.0

    def note(self, response: httpx.Response) -> None:
        wait = 0.0
        if response.headers.get(RECORDED_HEADER) == "retry":
            wait = float(response.headers.get("retry-after-ms", 0)) / 1000 or float(
                response.headers.get("retry-after", 1) or 1)
        for kind in ("requests", "tokens"):
            limit, left = response.headers.get(f"x-ratelimit-limit-{kind}"), response.headers.get(
                f"x-ratelimit-remaining-{kind}")
            if limit and left and limit.isdigit() and left.isdigit() and int(limit) > 0:
                if int(left) <= int(limit) * (1 - settings.BATCH_LIMIT_SHARE):
                    wait = max(wait, seconds_of(response.headers.get(f"x-ratelimit-reset-{kind}", "")))
        if wait:
            self.not_before = max(self.not_before, time.monotonic() + min(wait, _MAX_WAIT))

    def wait(self) -> None:
        delay = self.not_before - time.monotonic()
        if delay > 0:
            time.sleep(delay)


def _send(client: httpx.Client, batch: Batch, line: BatchLine, pace: _Pace) -> str:
    """Send one line; what came of it: recorded | retry | budget | closed."""
    pace.wait()
    try:
        response = client.post(batch.endpoint, json=line.body, headers={
            "authorization": f"Bearer {line_credential(batch.pk, line.number, batch.key_id)}",
            "x-request-id": f"{batch.pk}-{line.number}"})
    except httpx.HTTPError as exc:  # the gateway is down or restarting: try the line again later
        log.warning("batch_line_send_failed", batch_id=batch.pk, line=line.number, error=type(exc).__name__)
        pace.not_before = max(pace.not_before, time.monotonic() + 2)
        return "retry"
    pace.note(response)
    outcome = response.headers.get(RECORDED_HEADER, "")
    if outcome in ("recorded", "replayed"):
        if response.status_code == 429 and b"budget_exceeded" in response.content:
            return "budget"
        return "recorded"
    if response.status_code == 409 and b"batch_not_in_progress" in response.content:
        return "closed"
    return "retry"


def _expired(batch: Batch) -> bool:
    return timezone.now() >= batch.expires_at


def run(batch_id: str) -> None:
    """Drive the batch until it ends, or until another runner holds it."""
    runner = uuid.uuid4().hex
    if not service.hold_batch(batch_id, runner):
        return
    stop = threading.Event()
    heartbeat = threading.Thread(target=_renew, args=(batch_id, runner, stop), daemon=True)
    heartbeat.start()
    try:
        batch = Batch.objects.get(pk=batch_id)
        if batch.status == BatchStatus.VALIDATING and not service.validate_batch(batch):
            batch.refresh_from_db()
            if batch.status != BatchStatus.CANCELLING:
                return
        _drive(batch_id, runner)
    finally:
        stop.set()
        heartbeat.join(timeout=5)
        service.let_go(batch_id, runner)
        close_old_connections()


def _renew(batch_id: str, runner: str, stop: threading.Event) -> None:
    """Keep the hold on the batch while lines are in flight (a chunk of slow lines outlasts one lease)."""
    try:
        while not stop.wait(settings.BATCH_LEASE_SECONDS / 3):
            service.hold_batch(batch_id, runner)
    finally:
        close_old_connections()


def _drive(batch_id: str, runner: str) -> None:
    pace = _Pace()
    with httpx.Client(base_url=settings.BATCH_GATEWAY_URL, timeout=httpx.Timeout(600.0, connect=5.0)) as client, \
            ThreadPoolExecutor(max_workers=max(settings.BATCH_CONCURRENCY, 1)) as pool:
        while True:
            if not service.hold_batch(batch_id, runner):
                return  # another runner took over (this one was too slow to renew)
            batch = Batch.objects.get(pk=batch_id)
            if batch.status == BatchStatus.CANCELLING:
                service.stop_remaining(batch_id, "batch_cancelled")
                if not _in_flight(batch_id):
                    service.finalize_batch(batch_id, BatchStatus.CANCELLED)
                    return
                time.sleep(1)
                continue
            if batch.status != BatchStatus.IN_PROGRESS:
                return
            if _expired(batch):
                service.stop_remaining(batch_id, "batch_expired")
                if not _in_flight(batch_id):
                    service.finalize_batch(batch_id, BatchStatus.EXPIRED)
                    return
            now = timezone.now()
            lines = list(BatchLine.objects.filter(batch_id=batch_id, state=LineState.PENDING).order_by("number")
                         [:CHUNK]) or list(
                BatchLine.objects.filter(batch_id=batch_id, state=LineState.RUNNING, claimed_until__lt=now)
                .order_by("number")[:CHUNK])
            if not lines:
                if _in_flight(batch_id):
                    time.sleep(1)  # a line is being called (by a process that may have died: its lease tells)
                    continue
                service.finalize_batch(batch_id, BatchStatus.COMPLETED)
                return
            outcomes = list(pool.map(_send_closing, [client] * len(lines), [batch] * len(lines), lines,
                                     [pace] * len(lines)))
            if "budget" in outcomes:
                service.stop_remaining(batch_id, "budget_exceeded")


def _send_closing(client: httpx.Client, batch: Batch, line: BatchLine, pace: _Pace) -> str:
    try:
        return _send(client, batch, line, pace)
    finally:
        close_old_connections()  # the pool's threads touch no database, but be safe


def _in_flight(batch_id: str) -> bool:
    return BatchLine.objects.filter(batch_id=batch_id, state=LineState.RUNNING).exists()


def resume_stalled_batches() -> int:
    """Queue a runner for every batch whose runner is gone; the number queued."""
    from portal.tasks import run_batch

    stalled = service.stalled_batches()
    for batch_id in stalled:
        run_batch.delay(batch_id)
    return len(stalled)
