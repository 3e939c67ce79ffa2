-- wrk script: POST a small, non-streaming chat completion with a bearer key.
--
--   BENCH_KEY=sk-... BENCH_MODEL=bench-chat wrk -s bench/chat.lua http://127.0.0.1:PORT/v1/chat/completions
--
-- The same body goes to every target (the fake upstream ignores the model name), so the
-- direct, floor and gateway runs differ only in what sits between wrk and the upstream.
-- done() prints one JSON line, prefixed "BENCH_JSON ", that bench/run parses.
-- BENCH_STREAM=1 asks for a streamed answer ("stream": true; the harness then uses BENCH_MODEL=bench-stream,
-- the paced streaming upstream's alias), for the streaming profile.

local key = os.getenv("BENCH_KEY") or "none"
local model = os.getenv("BENCH_MODEL") or "bench-chat"
local stream = os.getenv("BENCH_STREAM") == "1" and '"stream":true,' or ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
wrk.body = '{"model":"' .. model .. '",' .. stream .. '"messages":[{"role":"system","content":"You are terse."},'
        .. '{"role":"user","content":"Say hello to the switchboard in five words."}],'
        .. '"max_tokens":16,"temperature":0}'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"min":%d,"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9)))
end
