"""The cost of the guard steps on the gateway's path (issue 14), in process: not a test, nothing asserted.

Measures, on the baseline policy (``guardrails/baseline.py``):

- step 3 (``guard_input``) on a realistic ~2,000-token chat request (prose, code, a log excerpt, a few
  PII items), against no policy (the dict read every call pays);
- step 6 on a whole answer of the same size (``guard_answer``, with un-masking);
- step 6 on a streamed answer: CPU per chunk of ``StreamOutput.chunk``, and how far the caller lags the
  model: the text held back after each chunk, in characters and in chunks (the aim: no more than one).

    .venv/bin/python bench/guard_path.py            # N=300 runs per figure (median, µs)
"""

from __future__ import annotations

import asyncio
import copy
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "aiplatform.settings")
os.environ.setdefault("DATA_DIR", "/tmp/switchboard-guard-path")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import django  # noqa: E402

django.setup()

from gateway.normal import ChatChunk, ChatRequest, ChatResponse, Choice, Message  # noqa: E402
from gateway.pipeline import guard as guard_step  # noqa: E402
from gateway.pipeline.context import CallContext  # noqa: E402
from gateway.state import Snapshot  # noqa: E402
from guardrails.baseline import BASELINE  # noqa: E402
from guardrails.detectors import pii  # noqa: E402
from registry.policy_document import canonical, spec_of  # noqa: E402

N = int(os.environ.get("N", "300"))

PROSE = ("The quarterly report shows revenue up four percent, driven by the northern region and the new "
         "subscription tier. Margins held steady while logistics costs fell after the warehouse move. ")
CODE = ('def connect(settings):\n    url = settings.get("DATABASE_URL", "postgres://localhost/app")\n'
        '    password = os.environ["DB_PASSWORD"]\n    return pool(url, password=password, timeout=5)\n')
LOG = ("2026-11-30T10:15:02Z INFO request_id=7f3c2a1e path=/v1/orders status=200 ms=41 version=4.2.1\n"
       "2026-11-30T10:15:03Z WARN retrying upstream after 503 (attempt 2 of 3) order=88412093\n")
PII = ("Contact Maria at maria.lopez@example.org or +44 20 7946 0958. Her IBAN is DE89 3704 0044 0532 0130 00 "
       "and the office IP is 192.0.2.17. ")


def _prompt(tokens: int = 2000) -> str:
    parts, text = [PROSE, CODE, LOG, PII], ""
    i = 0
    while len(text) < tokens * 4:  # about four characters a token
        text += parts[i % len(parts)]
        i += 1
    return text


class _Grant:
    tenant_slug, data_classification, tenant_region = "acme", "internal", "eu"


class _Routing:
    name = "bench-chat"


def _context(policies) -> CallContext:
    ctx = CallContext(request_id="bench", client_ip=None, headers={}, operation="chat",
                      snapshot=Snapshot(policies=tuple(policies), loaded_at=1.0))
    ctx.grant, ctx.routing = _Grant(), _Routing()
    return ctx


def _request(text: str) -> ChatRequest:
    return ChatRequest(model="bench-chat", messages=[Message("system", "You are a helpful assistant."),
                                                     Message("user", text)])


def _median_us(run, n: int = N) -> float:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        run()
        samples.append((time.perf_counter() - began) * 1e6)
    return statistics.median(samples)


def main() -> None:
    document = {k: v for k, v in BASELINE.items() if k not in ("name", "description", "enabled")}
    baseline = spec_of("baseline", 1, canonical(document))
    text = _prompt()
    request = _request(text)
    loop = asyncio.new_event_loop()

    def input_step(policies):
        ctx = _context(policies)
        ctx.request = copy.deepcopy(request)
        loop.run_until_complete(guard_step.guard_input(ctx))
        return ctx

    deep_copy = _median_us(lambda: copy.deepcopy(request))
    none = _median_us(lambda: input_step(())) - deep_copy
    with_baseline = _median_us(lambda: input_step((baseline,))) - deep_copy

    def cold_input_step(policies):
        pii._phone_region.cache_clear()  # the validation caches as a prompt never seen before finds them
        pii._iban_valid.cache_clear()
        return input_step(policies)

    cold = _median_us(lambda: cold_input_step((baseline,))) - deep_copy
    print(f"prompt: {len(text):,} characters (~{len(text) // 4:,} tokens)")
    print(f"step 3, no policy:        {none:8.1f} µs")
    print(f"step 3, baseline policy:  {with_baseline:8.1f} µs  (the same prompt again: phone and IBAN checks cached)")
    print(f"step 3, baseline, cold:   {cold:8.1f} µs  (a prompt never seen: the caches empty)")

    masked = input_step((baseline,))

    def answer_step():
        ctx = _context((baseline,))
        ctx.guard = masked.guard
        response = ChatResponse(id="x", model="bench-chat", choices=[Choice(0, Message("assistant", text))])
        guard_step.guard_answer(ctx, response)

    print(f"step 6, whole answer:     {_median_us(answer_step):8.1f} µs")

    chunk_chars = 12  # a typical streamed delta: a few tokens
    pieces = [text[i:i + chunk_chars] for i in range(0, len(text), chunk_chars)]
    per_chunk, lag_chars, lag_chunks = [], [], []
    for _ in range(max(3, N // 30)):
        ctx = _context((baseline,))
        ctx.guard = masked.guard
        out = guard_step.StreamOutput(ctx)
        given = sent = 0
        for piece in pieces:
            chunk = ChatChunk(id="x", model="m", content=piece)
            began = time.perf_counter()
            out.chunk(chunk)
            per_chunk.append((time.perf_counter() - began) * 1e6)
            given += len(piece)
            sent += len(chunk.content or "")
            lag_chars.append(given - sent)
            lag_chunks.append((given - sent) / chunk_chars)
        out.flush()
    print(f"stream: {len(pieces)} chunks of {chunk_chars} characters")
    print(f"step 6, per chunk:        {statistics.median(per_chunk):8.1f} µs median, "
          f"p99 {sorted(per_chunk)[int(len(per_chunk) * 0.99)]:.1f} µs")
    print(f"held back after a chunk:  median {statistics.median(lag_chars):.0f} characters "
          f"({statistics.median(lag_chunks):.2f} chunks), p99 {sorted(lag_chars)[int(len(lag_chars) * 0.99)]} "
          f"characters ({sorted(lag_chunks)[int(len(lag_chunks) * 0.99)]:.2f} chunks), "
          f"max {max(lag_chars)} characters")


if __name__ == "__main__":
    main()
