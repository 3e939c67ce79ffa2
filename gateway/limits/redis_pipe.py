"""A lean pipelined Redis connection for the limiter's two scripts (ADMIT and SETTLE), and nothing else.

Why it exists (issue 17): under load, redis-py's asyncio machinery — command packing, the
connection pool, StreamReader/StreamWriter, an ``asyncio.timeout`` per command, ``Script``'s
EVALSHA wrapper — was the largest cost of governance in the full stack. ``bench/redis_clients.py``
measures the same admit + settle calls in isolation (client CPU per call, redis-server CPU per call):

    µs per admit + settle          c=1            c=16           c=64
                                   client server  client server  client server
    redis-py (what ran before)      327    105     161     80      151    75
    RedisPipe                       116    108      53     78       43    70

(before: one plain Script call at c=1, a redis-py pipeline per loop turn at c=16/64; N = 6000, one
run on the 2-CPU dev box, the bench's own loop included; a second run was within 15 µs of it). Redis does the same work either way; the
gateway saves ~0.1 ms of CPU per call, about a third of what redis-py cost.

This is one ``asyncio.Protocol`` per event loop: ``hiredis.pack_command`` builds the commands,
``hiredis.Reader`` parses the replies, a FIFO of futures pairs them with their callers, and every
call handed over in one ``send`` goes out in one ``transport.write``.

Contract:

- each call's future gets its own reply, as redis-py returns it with ``decode_responses=False``
  (bytes, ints, lists, None), or its own error reply as ``redis.exceptions.ResponseError``;
- a script Redis does not know (``NOSCRIPT``, e.g. after ``SCRIPT FLUSH`` or a restart) is sent
  again as ``EVAL``, which also caches it, so the next EVALSHA finds it;
- connecting (TCP, AUTH, SELECT) and each batch's replies must take at most ``timeout`` seconds;
  on a timeout, a lost connection or an unreadable reply, every call still waiting fails with
  ``redis.exceptions.TimeoutError`` / ``ConnectionError`` (what the limiter treats as "Redis down"),
  the connection is dropped, and the next call makes a new one — so a late reply can never be
  handed to the wrong caller.

``redis://`` and ``unix://`` URLs only (with username, password, db); ``supports(url)`` is false for
``rediss://`` or URL options, and the limiter then stays on redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import hiredis
from redis.connection import parse_url
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import DataError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

_MORE = object()  # hiredis.Reader.gets(): the buffer holds no complete reply yet
_ADDRESS = {"host", "port", "path", "db", "username", "password", "connection_class"}


class Script(NamedTuple):
    """A Lua script as the pipe sends it: by its SHA1, with the source at hand for a NOSCRIPT reply."""

    source: str
    sha: str

    @classmethod
    def of(cls, source: str) -> Script:
        return cls(source, hashlib.sha1(source.encode()).hexdigest())


# What ``RedisPipe.send`` takes: a script (None: ``args`` is a plain command), its ARGV, the caller's future.
Call = tuple[Script | None, Sequence[Any], asyncio.Future]


def _options(url: str) -> dict[str, Any] | None:
    options = parse_url(url)
    cls = options.get("connection_class")
    if set(options) - _ADDRESS or (cls is not None and cls.__name__ != "UnixDomainSocketConnection"):
        return None  # TLS or options such as socket_keepalive: redis-py's job
    return options


def supports(url: str) -> bool:
    """Whether ``RedisPipe`` can talk to this URL (plain TCP or a Unix socket, no options but the db)."""
    return _options(url) is not None


class _Connection(asyncio.Protocol):
    """One connection's FIFO: the n-th reply read belongs to the n-th command written."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.transport: asyncio.Transport | None = None
        self.broken: RedisError | None = None
        self._reader = hiredis.Reader(notEnoughData=_MORE)
        self._waiting: collections.deque[Call] = collections.deque()
        self._written = 0  # commands written on this connection
        self._answered = 0  # replies read
        # (commands written when the batch went out, its deadline): one timer at a time checks the oldest.
        self._deadlines: collections.deque[tuple[int, float]] = collections.deque()
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(RedisConnectionError(f"Connection to Redis lost: {exc or 'closed by server'}"))

    def write(self, calls: Sequence[Call], *, as_eval: bool = False) -> None:
        if self.broken is not None:
            _fail(calls, self.broken)
            return
        chunks = []
        for call in calls:
            script, args, future = call
            if script is None:
                command = tuple(args)
            else:
                command = ("EVAL" if as_eval else "EVALSHA", script.source if as_eval else script.sha, 0, *args)
            try:
                chunks.append(hiredis.pack_command(command))
            except (TypeError, ValueError) as exc:  # e.g. a None argument: that caller's mistake, not the batch's
                if not future.done():
                    future.set_exception(DataError(str(exc)))
                continue
            self._waiting.append(call)
        if not chunks:
            return
        self.transport.write(b"".join(chunks))
        self._written += len(chunks)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        self._deadlines.append((self._written, deadline))
        if self._timer is None:
            self._timer = loop.call_at(deadline, self._check_deadlines)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self.fail(RedisConnectionError(f"Unreadable reply from Redis: {exc}"))
                return
            if reply is _MORE:
                return
            self._answered += 1
            call = self._waiting.popleft()
            script, _, future = call
            if isinstance(reply, hiredis.ReplyError):
                message = str(reply)
                if script is not None and message.startswith("NOSCRIPT"):
                    self.write((call,), as_eval=True)
                elif not future.done():
                    future.set_exception(ResponseError(message))
            elif not future.done():  # else its caller was cancelled: the reply is read and dropped
                future.set_result(reply)

    def _check_deadlines(self) -> None:
        self._timer = None
        while self._deadlines and self._deadlines[0][0] <= self._answered:
            self._deadlines.popleft()
        if not self._deadlines or self.broken is not None:
            return
        loop = asyncio.get_running_loop()
        deadline = self._deadlines[0][1]
        if deadline <= loop.time() + 0.001:  # timers may fire a hair early
            self.fail(RedisTimeoutError(f"Redis did not answer within {self.timeout} s"))
        else:
            self._timer = loop.call_at(deadline, self._check_deadlines)

    def fail(self, error: RedisError) -> None:
        """Fail every call still waiting and drop the connection: its later replies would be misaligned."""
        if self.broken is not None:
            return
        self.broken = error
        if self._timer is not None:
            self._timer.cancel()
        waiting, self._waiting = self._waiting, collections.deque()
        _fail(waiting, error)
        if self.transport is not None:
            self.transport.abort()


def _fail(calls: Sequence[Call], error: BaseException) -> None:
    for _, _, future in calls:
        if not future.done():
            future.set_exception(error)


class RedisPipe:
    """Pipelined EVALSHA over one lazily made connection per event loop (see the module docstring)."""

    def __init__(self, url: str, *, timeout: float) -> None:
        options = _options(url)
        if options is None:
            raise ValueError("RedisPipe takes redis:// and unix:// URLs without options (see supports())")
        self._options = options
        self._timeout = timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connection: _Connection | None = None
        self._connecting: asyncio.Task | None = None
        self._until_connected: list[Call] = []

    def send(self, calls: Sequence[Call]) -> None:
        """Write ``calls`` as one pipelined round trip (after connecting, if need be); each future gets its reply."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop and not self._rebind(loop):
            _fail(calls, RuntimeError("RedisPipe is in use by another running event loop"))
            return
        connection = self._connection
        if connection is not None and connection.broken is None:
            connection.write(calls)
            return
        self._until_connected.extend(calls)
        if self._connecting is None:
            self._connecting = loop.create_task(self._connect())

    def _rebind(self, loop: asyncio.AbstractEventLoop) -> bool:
        # A pipe's connection and futures belong to one loop; a new loop (say, a second asyncio.run) may take it
        # over once the old one is closed, never while it still runs.
        if self._loop is not None and not self._loop.is_closed():
            return False
        if self._connection is not None and self._connection.transport is not None:
            try:
                self._connection.transport.abort()
            except RuntimeError:  # its loop is closed: the socket goes with the transport
                pass
        self._loop, self._connection, self._connecting, self._until_connected = loop, None, None, []
        return True

    async def _connect(self) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                connection = await self._open()
        except BaseException as exc:
            calls, self._until_connected, self._connecting = self._until_connected, [], None
            _fail(calls, _connect_error(exc))
            if not isinstance(exc, Exception):
                raise
            return
        calls, self._until_connected, self._connecting = self._until_connected, [], None
        self._connection = connection
        connection.write(calls)

    async def _open(self) -> _Connection:
        loop = asyncio.get_running_loop()
        options = self._options
        if "path" in options:
            _, connection = await loop.create_unix_connection(lambda: _Connection(self._timeout), options["path"])
        else:
            _, connection = await loop.create_connection(lambda: _Connection(self._timeout),
                                                         options.get("host", "localhost"), options.get("port", 6379))
        setup: list[Call] = []
        if options.get("password") is not None:
            auth = ("AUTH", options["username"], options["password"]) if options.get("username") else \
                ("AUTH", options["password"])
            setup.append((None, auth, loop.create_future()))
        if options.get("db"):
            setup.append((None, ("SELECT", options["db"]), loop.create_future()))
        if setup:
            connection.write(setup)
            try:
                # Every reply is read (a refused AUTH makes SELECT fail too), so no error is left unretrieved.
                replies = await asyncio.gather(*(future for _, _, future in setup), return_exceptions=True)
            except BaseException:
                connection.fail(RedisConnectionError("Connecting to Redis failed"))
                raise
            refused = next((reply for reply in replies if isinstance(reply, BaseException)), None)
            if refused is not None:
                connection.fail(RedisConnectionError(f"Redis refused the connection's setup: {refused}"))
                raise connection.broken from refused
        return connection

    async def close(self) -> None:
        """Drop the connection; calls still waiting fail with ``ConnectionError``."""
        if self._connecting is not None:
            self._connecting.cancel()
            self._connecting = None
        if self._connection is not None:
            self._connection.fail(RedisConnectionError("RedisPipe closed"))
            self._connection = None


def _connect_error(exc: BaseException) -> RedisError:
    if isinstance(exc, RedisError):
        return exc
    if isinstance(exc, TimeoutError):
        return RedisTimeoutError("Timeout connecting to Redis")
    return RedisConnectionError(f"Error connecting to Redis: {exc!r}")
