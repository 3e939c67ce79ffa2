"""Streaming time to first byte, and whether chunks arrive spread out (not buffered).

Sends N sequential streaming chat completions (``"stream": true``) over one keep-alive
connection and prints one JSON object::

    .venv/bin/python bench/ttfb.py --url http://127.0.0.1:PORT/v1/chat/completions \
        --key sk-... --model bench-stream -n 100 --chunks 10 --delay-ms 10

Per request it records the time from sending to the first body byte (TTFB: the upstream's
first SSE event, sent before any delay), the time to the end of the stream, how many separate
socket reads carried SSE events, and the spread (first event → last content event). With the
upstream pacing ``--chunks`` content chunks ``--delay-ms`` apart, a pass-through proxy delivers
them in about ``chunks + 1`` reads spread over about ``chunks × delay`` ms; a buffering one
delivers them all at once at the end (few reads, a spread near zero, TTFB near the total).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import httpx


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (what wrk reports too)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def one(client: httpx.Client, url: str, headers: dict, body: bytes) -> dict:
    t0 = time.perf_counter()
    first = None
    reads = 0
    event_times: list[float] = []
    pending = b""
    status = 0
    with client.stream("POST", url, headers=headers, content=body) as response:
        status = response.status_code
        for raw in response.iter_raw():
            now = time.perf_counter()
            if first is None:
                first = now
            pending += raw
            *events, pending = pending.split(b"\n\n")
            events = [e for e in events if e.strip()]
            if events:
                reads += 1
                event_times.extend([now] * len(events))
    end = time.perf_counter()
    first = first if first is not None else end
    # The last content event is the one before the finish chunk and [DONE] (which may share its read).
    last_content = event_times[-3] if len(event_times) >= 3 else end
    return {
        "status": status,
        "ttfb_ms": (first - t0) * 1000,
        "total_ms": (end - t0) * 1000,
        "events": len(event_times),
        "reads": reads,
        "spread_ms": (last_content - event_times[0]) * 1000 if event_times else 0.0,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", default="none")
    parser.add_argument("--model", default="bench-stream")
    parser.add_argument("-n", type=int, default=100, help="measured requests (after --warmup)")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=10, help="the upstream's FAKE_STREAM_CHUNKS")
    parser.add_argument("--delay-ms", type=float, default=10.0, help="the upstream's FAKE_CHUNK_DELAY_MS")
    args = parser.parse_args(argv)

    headers = {"authorization": f"Bearer {args.key}", "content-type": "application/json"}
    body = json.dumps({"model": args.model, "stream": True, "max_tokens": 16,
                       "messages": [{"role": "user", "content": "Say hello to the switchboard in five words."}]
                       }).encode()
    results = []
    with httpx.Client(timeout=30.0) as client:
        for i in range(args.warmup + args.n):
            r = one(client, args.url, headers, body)
            if i >= args.warmup:
                results.append(r)

    ok = [r for r in results if r["status"] == 200]
    ttfb = [r["ttfb_ms"] for r in ok]
    expected_spread = args.chunks * args.delay_ms
    reads_med = statistics.median(r["reads"] for r in ok) if ok else 0
    spread_med = statistics.median(r["spread_ms"] for r in ok) if ok else 0.0
    # Spread out: most chunks in their own read, over most of the time the upstream took to send them.
    spread_out = bool(ok) and (args.delay_ms <= 0 or (reads_med >= 0.8 * args.chunks
                                                      and spread_med >= 0.7 * expected_spread))
    out = {
        "url": args.url,
        "n": args.n,
        "ok": len(ok),
        "non_200": len(results) - len(ok),
        "statuses": sorted({r["status"] for r in results}),
        "ttfb_ms": {"p50": percentile(ttfb, 50), "p99": percentile(ttfb, 99), "min": min(ttfb, default=float("nan")),
                    "mean": statistics.fmean(ttfb) if ttfb else float("nan")},
        "total_ms_p50": percentile([r["total_ms"] for r in ok], 50),
        "events_p50": statistics.median(r["events"] for r in ok) if ok else 0,
        "reads_p50": reads_med,
        "spread_ms_p50": spread_med,
        "expected_spread_ms": expected_spread,
        "chunks": args.chunks,
        "delay_ms": args.delay_ms,
        "spread_out": spread_out,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0 if ok and not out["non_200"] else 1


if __name__ == "__main__":
    sys.exit(main())
