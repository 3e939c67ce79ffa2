"""OpenAI's Files API (``/v1/files``): a team uploads the Batch API's input and reads files back.

``POST /v1/files`` takes ``multipart/form-data`` (``file``, ``purpose=batch``, optionally
``expires_after[anchor]=created_at`` and ``expires_after[seconds]``), streamed through python-multipart into a
spooled temporary file, bounded by ``FILES_MAX_BYTES`` (413 past it) and ``FILES_UPLOAD_TIMEOUT_SECONDS``
(408), then saved in the ``files`` storage (local disk, or S3). ``GET /v1/files`` lists (``purpose``,
``order``, ``after``, ``limit``), ``GET /v1/files/{id}`` describes one, ``GET /v1/files/{id}/content`` streams
its bytes, ``DELETE`` removes it. A key sees only its own tenant's files: another team's id is a 404.

Not on the chat hot path: each request is one or two queries, run in a worker thread.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import orjson
from django.conf import settings
from django.core.files import File
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from gateway.db_thread import in_thread
from gateway.errors import BadRequestError, NotFoundError, PayloadTooLargeError, UnsupportedMediaTypeError
from gateway.pipeline.authenticate import authenticate
from gateway.pipeline.call import StreamBody
from gateway.pipeline.context import CallContext
from gateway.wire.openai import invalid_value, missing

PURPOSES = ("batch",)  # what a caller may upload; batch output files are written by the platform
_SPOOL_BYTES = 8 * 1024 * 1024  # kept in memory up to this, then on disk
_FORM_OVERHEAD = 64 * 1024  # the form's other fields and boundaries, beyond the file itself
_CHUNK = 256 * 1024
MIN_KEEP_SECONDS, MAX_KEEP_SECONDS = 3600, 30 * 24 * 3600  # OpenAI's bounds for expires_after[seconds]


def file_object(row) -> dict[str, Any]:
    """An ``UploadedFile`` as OpenAI's ``file`` object."""
    return {"id": row.id, "object": "file", "bytes": row.bytes, "created_at": int(row.created_at.timestamp()),
            "expires_at": int(row.expires_at.timestamp()), "filename": row.filename, "purpose": row.purpose,
            "status": "processed", "status_details": None}


class _Form:
    """Collects a multipart form: small fields in memory, the file part in a spooled temporary file."""

    def __init__(self, limit: int) -> None:
        self.fields: dict[str, bytes] = {}
        self.file = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)
        self.filename: str | None = None
        self.size = 0
        self.limit = limit
        self._name, self._header, self._value = "", b"", b""
        self._headers: dict[bytes, bytes] = {}
        self._is_file = False

    def callbacks(self) -> dict:
        return {"on_part_begin": self._begin, "on_header_field": self._field, "on_header_value": self._value_of,
                "on_header_end": self._header_end, "on_headers_finished": self._headers_done,
                "on_part_data": self._data, "on_part_end": lambda: None}

    def _begin(self) -> None:
        self._headers, self._name, self._is_file = {}, "", False

    def _field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def _value_of(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header.strip().lower()] = self._value.strip()
        self._header, self._value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self._name = options.get(b"name", b"").decode("utf-8", "replace")
        if self._name == "file":
            self._is_file = True
            self.filename = options.get(b"filename", b"").decode("utf-8", "replace")
        else:
            self.fields.setdefault(self._name, b"")

    def _data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self._is_file:
            self.size += len(piece)
            if self.size > self.limit:
                raise PayloadTooLargeError(f"The file is larger than the limit of {self.limit} bytes.")
            self.file.write(piece)
        else:
            value = self.fields.get(self._name, b"") + piece
            if len(value) > 4096:
                raise invalid_value(self._name[:64] or "form", "form fields are at most 4096 bytes.")
            self.fields[self._name] = value

    def text(self, name: str) -> str | None:
        raw = self.fields.get(name)
        return raw.decode("utf-8", "replace") if raw is not None else None


async def _read_form(ctx: CallContext) -> _Form:
    content_type = ctx.headers.get("content-type", "")
    kind, options = parse_options_header(content_type)
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise UnsupportedMediaTypeError("Upload a file as 'multipart/form-data' with a 'file' and a 'purpose' field "
                                        f"(got {content_type.split(';')[0] or 'none'!r}).")
    limit = settings.FILES_MAX_BYTES
    declared = ctx.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FORM_OVERHEAD:
        raise PayloadTooLargeError(f"The file is larger than the limit of {limit} bytes.")
    form = _Form(limit)
    parser = MultipartParser(options[b"boundary"], form.callbacks(), max_size=limit + _FORM_OVERHEAD)
    try:
        async with asyncio.timeout(settings.FILES_UPLOAD_TIMEOUT_SECONDS):
            while True:
                message = await ctx.receive()
                if message["type"] == "http.disconnect":
                    raise BadRequestError("The upload ended before the whole form arrived.", code="invalid_body")
                body = message.get("body", b"")
                if body:
                    parser.write(body)
                if not message.get("more_body"):
                    break
        parser.finalize()
    except TimeoutError:
        form.file.close()
        from gateway.asgi import RequestTimeoutError

        raise RequestTimeoutError("The upload did not arrive within "
                                  f"{settings.FILES_UPLOAD_TIMEOUT_SECONDS:g} seconds.") from None
    except (MultipartParseError, ValueError) as exc:
        form.file.close()
        raise BadRequestError(f"The multipart form could not be parsed: {str(exc)[:200]}", code="invalid_body") from None
    except BaseException:
        form.file.close()
        raise
    return form


def _keep_seconds(form: _Form) -> int:
    default = settings.FILES_RETENTION_DAYS * 86400
    anchor, seconds = form.text("expires_after[anchor]"), form.text("expires_after[seconds]")
    if anchor is None and seconds is None:
        return default
    if anchor != "created_at":
        raise invalid_value("expires_after.anchor", "the only anchor is 'created_at'.")
    if seconds is None or not seconds.isdigit() or not MIN_KEEP_SECONDS <= int(seconds) <= MAX_KEEP_SECONDS:
        raise invalid_value("expires_after.seconds",
                            f"expected an integer between {MIN_KEEP_SECONDS} and {MAX_KEEP_SECONDS}.")
    return min(int(seconds), default)


async def upload(ctx: CallContext) -> bytes:
    """``POST /v1/files``"""
    from portal.services.files import store_file

    await authenticate(ctx)
    form = await _read_form(ctx)
    try:
        purpose = form.text("purpose")
        if purpose is None:
            raise missing("purpose")
        if purpose not in PURPOSES:
            raise invalid_value("purpose", f"'{purpose[:40]}' is not supported; this gateway takes files for the "
                                           "Batch API: 'batch'.")
        if form.filename is None:
            raise missing("file")
        filename = form.filename.replace("\\", "/").rsplit("/", 1)[-1].strip()
        if not filename or len(filename) > 255:
            raise invalid_value("file", "the file needs a name of 1 to 255 characters.")
        if form.size == 0:
            raise invalid_value("file", "the file is empty.")
        keep = _keep_seconds(form)
        form.file.seek(0)
        grant = ctx.grant
        row = await in_thread(store_file)(
            tenant_id=grant.tenant_id, application_id=grant.application_id, key_id=grant.key_id, purpose=purpose,
            filename=filename, content=File(form.file, name=filename), size=form.size, keep_seconds=keep)
    finally:
        form.file.close()
    return orjson.dumps(file_object(row))


def _page_params(query: str) -> tuple[str | None, str | None, int, bool]:
    params = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    order = params.get("order", "desc")
    if order not in ("asc", "desc"):
        raise invalid_value("order", f"'{order[:20]}' is not one of 'asc', 'desc'.")
    raw = params.get("limit", "10000")
    if not raw.isdigit() or not 1 <= int(raw) <= 10000:
        raise invalid_value("limit", "expected an integer between 1 and 10000.")
    return params.get("purpose") or None, params.get("after") or None, int(raw), order == "desc"


async def list_files(ctx: CallContext) -> bytes:
    """``GET /v1/files``"""
    from portal.selectors_files import files_page

    await authenticate(ctx)
    purpose, after, limit, newest_first = _page_params(ctx.query)
    rows, more = await in_thread(files_page)(ctx.grant.tenant_id, purpose=purpose, after=after, limit=limit,
                                              newest_first=newest_first)
    data = [file_object(r) for r in rows]
    return orjson.dumps({"object": "list", "data": data, "first_id": data[0]["id"] if data else None,
                         "last_id": data[-1]["id"] if data else None, "has_more": more})


async def _found(ctx: CallContext, file_id: str):
    from portal.selectors_files import file_of

    await authenticate(ctx)
    row = await in_thread(file_of)(ctx.grant.tenant_id, file_id[:40])
    if row is None:
        raise NotFoundError(f"No such File object: {file_id[:64]}", param="file_id")
    return row


async def retrieve(ctx: CallContext, file_id: str) -> bytes:
    """``GET /v1/files/{id}``"""
    return orjson.dumps(file_object(await _found(ctx, file_id)))


async def delete(ctx: CallContext, file_id: str) -> bytes:
    """``DELETE /v1/files/{id}``"""
    from portal.services.files import delete_file

    await authenticate(ctx)
    if not await in_thread(delete_file)(tenant_id=ctx.grant.tenant_id, file_id=file_id[:40]):
        raise NotFoundError(f"No such File object: {file_id[:64]}", param="file_id")
    return orjson.dumps({"id": file_id, "object": "file", "deleted": True})


async def content(ctx: CallContext, file_id: str) -> StreamBody:
    """``GET /v1/files/{id}/content``: the bytes as uploaded, streamed from the storage in chunks."""
    from portal.services.files import files_storage

    row = await _found(ctx, file_id)
    handle = await asyncio.to_thread(files_storage().open, row.storage_name, "rb")

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while piece := await asyncio.to_thread(handle.read, _CHUNK):
                yield piece
        finally:
            await asyncio.to_thread(handle.close)

    ctx.response_headers["content-length"] = str(row.bytes)
    return StreamBody(chunks(), content_type=b"application/octet-stream")
