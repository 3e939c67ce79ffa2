"""Writes of batches: create, validate, hold, answer lines once, stop, cancel, and finalize into files.

Statuses move as OpenAI's do: ``validating`` → ``in_progress`` → ``finalizing`` → ``completed``; or
``failed`` (the input did not validate: no model was called), ``expired`` (the completion window passed with
lines not run), ``cancelling`` → ``cancelled``. Each change is one conditional UPDATE, so a runner and a
cancel racing never both win.
"""

from __future__ import annotations

import secrets
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import orjson
import structlog
from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from aiplatform.audit import record_event
from portal.models import Batch, BatchLine, BatchStatus, FilePurpose, LineState, UploadedFile
from portal.selectors_batches import callable_aliases, lines_to_write
from portal.services.files import delete_file, files_storage, store_file
from portal.webhooks import enqueue_batch_event

log = structlog.get_logger("switchboard.batches")

ENDPOINT_KINDS = {"/v1/chat/completions": "chat", "/v1/embeddings": "embeddings", "/v1/responses": "chat",
                  "/v1/completions": "chat"}
WINDOWS = {"24h": timedelta(hours=24)}
MAX_REPORTED_ERRORS = 100  # a file with more bad lines reports the first ones, then how many more
# Why a line was not run, in the error file's ``error.code``.
NOT_RUN_MESSAGES = {
    "budget_exceeded": "A budget of this key ran out during the batch; the line was not sent.",
    "batch_expired": "This line could not be executed before the completion window expired.",
    "batch_cancelled": "The batch was cancelled before this line was sent.",
}


def create_batch(*, tenant_id: int, application_id: int, key_id: int, input_file: UploadedFile, endpoint: str,
                 completion_window: str, metadata: dict[str, str] | None,
                 output_keep_seconds: int | None = None) -> Batch:
    """A new batch at ``validating``; the runner (a Celery task, queued when this commits) takes it from there."""
    batch = Batch.objects.create(
        id="batch_" + secrets.token_hex(12), tenant_id=tenant_id, application_id=application_id, key_id=key_id,
        endpoint=endpoint, input_file_id=input_file.pk, completion_window=completion_window, metadata=metadata,
        output_keep_seconds=output_keep_seconds, expires_at=timezone.now() + WINDOWS[completion_window])
    from portal.tasks import run_batch

    transaction.on_commit(lambda: run_batch.delay(batch.pk))
    record_event(action="batch.create", actor_label=f"api key {key_id}", target=batch,
                 changes={"endpoint": endpoint, "input_file_id": input_file.pk, "key_id": key_id})
    return batch


# --- validation: the whole input checked before any model is called ------------------------------------


@dataclass
class _Checked:
    lines: list[BatchLine]
    errors: list[dict[str, Any]]
    more_errors: int = 0
    model: str = ""

    def error(self, line: int | None, code: str, message: str, param: str | None = None) -> None:
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"code": code, "message": message, "param": param, "line": line})
        else:
            self.more_errors += 1


def _check_line(checked: _Checked, number: int, raw: bytes, batch: Batch, seen: set[str], aliases: dict[str, str]):
    try:
        item = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return checked.error(number, "invalid_json_line", f"Line {number} is not valid JSON.")
    if not isinstance(item, dict):
        return checked.error(number, "invalid_request", f"Line {number} is not a JSON object.")
    unknown = set(item) - {"custom_id", "method", "url", "body"}
    if unknown:
        return checked.error(number, "invalid_request", f"Line {number} has unknown field "
                             f"'{sorted(unknown)[0][:40]}'.", sorted(unknown)[0][:40])
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not 1 <= len(custom_id) <= 512:
        return checked.error(number, "invalid_custom_id", f"Line {number} needs a 'custom_id' string of 1 to 512 "
                             "characters.", "custom_id")
    if custom_id in seen:
        return checked.error(number, "duplicate_custom_id", f"Line {number} repeats custom_id '{custom_id[:64]}'; "
                             "each line needs its own.", "custom_id")
    seen.add(custom_id)
    if item.get("method") != "POST":
        return checked.error(number, "invalid_method", f"Line {number}: 'method' must be 'POST'.", "method")
    if item.get("url") != batch.endpoint:
        return checked.error(number, "mismatched_endpoint", f"Line {number} is for '{str(item.get('url'))[:60]}', "
                             f"but this batch is for '{batch.endpoint}'.", "url")
    body = item.get("body")
    if not isinstance(body, dict):
        return checked.error(number, "invalid_request", f"Line {number}: 'body' must be a JSON object.", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return checked.error(number, "missing_model", f"Line {number}: the body names no 'model'.", "body.model")
    kind = aliases.get(model)
    if kind is None:
        return checked.error(number, "model_not_found", f"Line {number}: '{model[:100]}' is not a model this key "
                             "may call (check the application's subscriptions).", "body.model")
    if kind != ENDPOINT_KINDS[batch.endpoint]:
        return checked.error(number, "mismatched_model", f"Line {number}: '{model[:100]}' is a {kind} model and "
                             f"cannot serve {batch.endpoint}.", "body.model")
    if body.get("stream"):
        return checked.error(number, "invalid_request", f"Line {number}: batch lines cannot stream.", "body.stream")
    checked.model = checked.model or model
    checked.lines.append(BatchLine(batch=batch, number=number, custom_id=custom_id, body=body))


def _read_input(batch: Batch) -> _Checked:
    checked = _Checked(lines=[], errors=[])
    source = UploadedFile.objects.filter(tenant_id=batch.tenant_id, pk=batch.input_file_id,
                                         expires_at__gt=timezone.now()).first()
    if source is None:
        checked.error(None, "file_not_found", f"The input file {batch.input_file_id} no longer exists.",
                      "input_file_id")
        return checked
    aliases, seen, number = callable_aliases(batch.key_id), set(), 0
    with files_storage().open(source.storage_name, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number > settings.BATCH_MAX_LINES:
                checked.error(number, "too_many_lines", f"A batch holds at most {settings.BATCH_MAX_LINES} lines.")
                break
            if raw.strip():  # blank lines (a trailing one, say) are no request; line numbers still count them
                _check_line(checked, number, raw, batch, seen, aliases)
    if not checked.lines and not checked.errors:
        checked.error(None, "empty_file", "The input file holds no requests.", "input_file_id")
    return checked


def validate_batch(batch: Batch) -> bool:
    """Check every line; write them all (``in_progress``) or none (``failed``, with errors naming the lines)."""
    checked = _read_input(batch)
    now = timezone.now()
    if checked.errors:
        errors = checked.errors
        if checked.more_errors:
            errors.append({"code": "too_many_errors", "message": f"{checked.more_errors} more lines have errors.",
                           "param": None, "line": None})
        with transaction.atomic():
            if Batch.objects.filter(pk=batch.pk, status=BatchStatus.VALIDATING).update(
                    status=BatchStatus.FAILED, failed_at=now, errors=errors):
                batch.refresh_from_db()
                enqueue_batch_event(batch)
        log.info("batch_failed_validation", batch_id=batch.pk, errors=len(errors))
        return False
    with transaction.atomic():
        BatchLine.objects.bulk_create(checked.lines, batch_size=1000)
        moved = Batch.objects.filter(pk=batch.pk, status=BatchStatus.VALIDATING).update(
            status=BatchStatus.IN_PROGRESS, in_progress_at=now, total=len(checked.lines), model=checked.model)
        if not moved:  # cancelled while validating: no line is kept
            transaction.set_rollback(True)
            return False
    return True


# --- the runner's hold on a batch ----------------------------------------------------------------------


def hold_batch(batch_id: str, runner: str) -> bool:
    """Take (or renew) the batch for ``runner``; False when another live runner holds it."""
    now = timezone.now()
    return bool(Batch.objects.filter(pk=batch_id).filter(
        Q(runner=runner) | Q(lease_until__isnull=True) | Q(lease_until__lt=now)).update(
        runner=runner, lease_until=now + timedelta(seconds=settings.BATCH_LEASE_SECONDS)))


def let_go(batch_id: str, runner: str) -> None:
    Batch.objects.filter(pk=batch_id, runner=runner).update(runner="", lease_until=None)


def stalled_batches() -> list[str]:
    """Batches not final whose runner is gone (never started, or its hold ran out): to be run again."""
    now = timezone.now()
    return list(Batch.objects.filter(status__in=[BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS,
                                                 BatchStatus.FINALIZING, BatchStatus.CANCELLING])
                .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now)).values_list("pk", flat=True))


# --- lines, answered once (the gateway calls these) ------------------------------------------------------


@dataclass(frozen=True)
class LineClaim:
    state: str  # claimed | answered | busy | closed
    status_code: int | None = None
    response: Any = None


def claim_line(*, batch_id: str, number: int, endpoint: str, lease_seconds: float) -> LineClaim:
    """Take line ``number`` for one gateway call, or say why not: answered already (with the answer), being
    called right now, or not to be called (no such line, another endpoint, the batch not in progress)."""
    now = timezone.now()
    with transaction.atomic():
        line = (BatchLine.objects.select_for_update().select_related("batch")
                .filter(batch_id=batch_id, number=number).first())
        if line is None or line.batch.endpoint != endpoint:
            return LineClaim("closed")
        if line.state == LineState.ANSWERED:
            return LineClaim("answered", line.status_code, line.response)
        if line.state == LineState.NOT_RUN or line.batch.status != BatchStatus.IN_PROGRESS:
            return LineClaim("closed")
        if line.state == LineState.RUNNING and line.claimed_until and line.claimed_until > now:
            return LineClaim("busy")
        line.state, line.claimed_until = LineState.RUNNING, now + timedelta(seconds=lease_seconds)
        line.save(update_fields=["state", "claimed_until"])
    return LineClaim("claimed")


def release_line(*, batch_id: str, number: int) -> None:
    """The call was refused for now (a rate limit): the line waits again."""
    BatchLine.objects.filter(batch_id=batch_id, number=number, state=LineState.RUNNING).update(
        state=LineState.PENDING, claimed_until=None)


def record_line_answer(*, batch_id: str, number: int, status_code: int, response: Any, request_id: str,
                       cost: Decimal, usage: Any) -> None:
    """Keep the line's answer and count it on the batch, once (a second recorder of the same line changes nothing)."""
    with transaction.atomic():
        written = BatchLine.objects.filter(batch_id=batch_id, number=number, state=LineState.RUNNING).update(
            state=LineState.ANSWERED, status_code=status_code, response=response, request_id=request_id,
            claimed_until=None, answered_at=timezone.now())
        if written:
            ok = 200 <= status_code < 300
            Batch.objects.filter(pk=batch_id).update(
                completed=F("completed") + (1 if ok else 0), failed=F("failed") + (0 if ok else 1),
                cost=F("cost") + cost, prompt_tokens=F("prompt_tokens") + (usage.prompt_tokens if usage else 0),
                completion_tokens=F("completion_tokens") + (usage.completion_tokens if usage else 0))


def stop_remaining(batch_id: str, code: str) -> int:
    """Mark every line not yet sent as not run (``code``: budget_exceeded, batch_expired, batch_cancelled)."""
    with transaction.atomic():
        stopped = BatchLine.objects.filter(batch_id=batch_id, state=LineState.PENDING).update(
            state=LineState.NOT_RUN, error_code=code, error_message=NOT_RUN_MESSAGES[code])
        if stopped:
            Batch.objects.filter(pk=batch_id).update(failed=F("failed") + stopped)
    return stopped


# --- cancel, expire, finalize ------------------------------------------------------------------------------


def cancel_batch(batch: Batch, *, actor=None) -> bool:
    """Ask for the batch to stop: ``cancelling`` now, ``cancelled`` once lines in flight are answered.
    False when it already ended (or is already being cancelled)."""
    now = timezone.now()
    moved = Batch.objects.filter(pk=batch.pk, status__in=[BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS]).update(
        status=BatchStatus.CANCELLING, cancelling_at=now)
    if moved:
        record_event(action="batch.cancel", actor=actor, actor_label=None if actor else "api key",
                     target=batch, changes={"key_id": batch.key_id})
        from portal.tasks import run_batch

        transaction.on_commit(lambda: run_batch.delay(batch.pk))  # finishes it even when no runner is active
    batch.refresh_from_db()
    return bool(moved)


def _line_record(line: BatchLine) -> dict[str, Any]:
    """One line of an output or error file, in OpenAI's format."""
    from gateway.batch_lines import line_request_id

    request_id = line.request_id or line_request_id(line.batch_id, line.number)
    if line.state == LineState.ANSWERED:
        return {"id": request_id, "custom_id": line.custom_id, "error": None,
                "response": {"status_code": line.status_code, "request_id": request_id, "body": line.response}}
    return {"id": request_id, "custom_id": line.custom_id, "response": None,
            "error": {"code": line.error_code, "message": line.error_message}}


def kept_seconds_of_output(batch: Batch) -> int:
    """How long the batch's output and error files are kept: what ``output_expires_after`` asked, never past the
    files retention."""
    default = settings.FILES_RETENTION_DAYS * 86400
    return min(batch.output_keep_seconds or default, default)


def _write_file(batch: Batch, kind: str, lines: list[dict[str, Any]]) -> str:
    if not lines:
        return ""
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as handle:
        size = 0
        for record in lines:
            piece = orjson.dumps(record) + b"\n"
            handle.write(piece)
            size += len(piece)
        handle.seek(0)
        name = f"{batch.pk}_{kind}.jsonl"
        row = store_file(tenant_id=batch.tenant_id, application_id=batch.application_id, key_id=batch.key_id,
                         purpose=FilePurpose.BATCH_OUTPUT, filename=name, content=File(handle, name=name), size=size,
                         keep_seconds=kept_seconds_of_output(batch))
    return row.pk


def finalize_batch(batch_id: str, final: str) -> Batch:
    """Write the output file (answers 2xx) and the error file (the others, and lines not run), then ``final``.

    Called by the runner once no line is pending or running; a second call after it ended changes nothing.
    """
    now = timezone.now()
    if final == BatchStatus.COMPLETED:
        Batch.objects.filter(pk=batch_id, status=BatchStatus.IN_PROGRESS).update(
            status=BatchStatus.FINALIZING, finalizing_at=now)
    batch = Batch.objects.get(pk=batch_id)
    if batch.is_final:
        return batch
    output, errors = [], []
    for line in lines_to_write(batch).iterator(chunk_size=1000):
        if line.state not in (LineState.ANSWERED, LineState.NOT_RUN):
            continue  # never sent (a cancelled batch's lines that were not stopped): in neither file
        (output if line.state == LineState.ANSWERED and 200 <= (line.status_code or 0) < 300 else errors).append(
            _line_record(line))
    output_id, error_id = _write_file(batch, "output", output), _write_file(batch, "errors", errors)
    stamp = {BatchStatus.COMPLETED: "completed_at", BatchStatus.CANCELLED: "cancelled_at",
             BatchStatus.EXPIRED: "expired_at"}[final]
    with transaction.atomic():
        moved = Batch.objects.filter(pk=batch_id, status=batch.status).update(
            status=final, output_file_id=output_id, error_file_id=error_id, runner="", lease_until=None,
            **{stamp: now})
        if moved:
            batch.refresh_from_db()
            enqueue_batch_event(batch)
    if not moved:  # another runner finished it first: drop this one's files
        for file_id in filter(None, (output_id, error_id)):
            delete_file(tenant_id=batch.tenant_id, file_id=file_id)
    batch.refresh_from_db()
    log.info("batch_finished", batch_id=batch_id, status=batch.status, completed=batch.completed,
             failed=batch.failed, cost=str(batch.cost))
    return batch
