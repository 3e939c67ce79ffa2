"""The usage journal: append-only segment files, written before a response ends.

The embedded mode's durable queue of usage events, and the full stack's fallback while Redis is
unreachable. Each event is one JSON line written with a single ``write(2)`` on an ``O_APPEND``
descriptor: once it returns, the line is in the kernel's page cache and survives a SIGKILL of
this process (not a power cut: that would need an fsync per call, measured in the README).

A process writes ``<pid>-<n>.open``; every flush interval it seals the segment (renames it to
``.jsonl``) if anything was written. The reader (``portal.usage_intake``) takes sealed segments,
and open segments whose writer is dead, writes their events to the ledger (idempotently, by the
gateway's request id) and deletes the segment after the commit.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from django.conf import settings

OPEN, SEALED = ".open", ".jsonl"


class Journal:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = Path(directory or settings.USAGE_JOURNAL_DIR)
        self._fd: int | None = None
        self._path: Path | None = None
        self._written = 0
        self._sequence = 0

    def _open(self) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._sequence += 1
        self._path = self.directory / f"{os.getpid()}-{time.time_ns()}-{self._sequence}{OPEN}"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._written = 0
        return self._fd

    def append(self, line: bytes) -> None:
        """Write one event (a JSON document without newlines); raises ``OSError`` if the disk refuses."""
        fd = self._fd if self._fd is not None else self._open()
        os.write(fd, line + b"\n")
        self._written += 1

    def seal(self) -> Path | None:
        """Close the current segment for the reader, if it holds anything; the next append opens a new one."""
        if self._fd is None or not self._written:
            return None
        os.close(self._fd)
        sealed = self._path.with_suffix(SEALED)
        os.rename(self._path, sealed)
        self._fd, self._path, self._written = None, None, 0
        return sealed

    @property
    def pending(self) -> int:
        return self._written


def segments_ready(directory: Path | None = None, *, include_orphans: bool = True) -> list[Path]:
    """Sealed segments, and the open ones of processes that no longer run (oldest first)."""
    directory = Path(directory or settings.USAGE_JOURNAL_DIR)
    if not directory.is_dir():
        return []
    ready = []
    for path in directory.iterdir():
        if path.suffix == SEALED:
            ready.append(path)
        elif include_orphans and path.suffix == OPEN and not _writer_alive(path):
            ready.append(path)
    return sorted(ready, key=_opened_at)


def _opened_at(path: Path) -> tuple[int, str]:
    parts = path.name.split("-")
    return (int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0), path.name


def _writer_alive(path: Path) -> bool:
    try:
        pid = int(path.name.split("-", 1)[0])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A live process with this pid may be a newer one that reused it: an open segment untouched for
    # a minute is not being written (an active writer seals every second).
    return time.time() - path.stat().st_mtime < 60


def read_events(path: Path) -> list[bytes]:
    """The complete lines of a segment; a torn last line (the writer died inside ``write``) is skipped."""
    data = path.read_bytes()
    lines = data.split(b"\n")
    if data and not data.endswith(b"\n"):
        lines = lines[:-1]
    return [line for line in lines if line.strip()]
