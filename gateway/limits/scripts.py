"""The two Lua scripts of the shared limiter: one round trip to admit a call, one to settle it.

Redis runs a script atomically, so every counter of every level a call must fit is checked and
then charged with no other call in between, across any number of gateway processes. The clock
is Redis's own (``TIME``), so processes with skewed clocks agree on windows.

Keys, per level (``P`` = ``sb:l:<level>:<id>``):
  P:rpm  requests in the current minute window (a window starts at its first request; PEXPIRE 60 s)
  P:tpm  tokens charged in the current minute window (the reservation at admission, as OpenAI charges)
  P:bkt  the burst token bucket: hash {t = tokens left, ts = last refill in ms}
  P:fl   calls in flight: sorted set of request id → expiry (ms); an expired entry is a dead call
  P:rsv  strict-budget reservations of calls in flight: hash request id → "tokens cost day month"
  P:b:<period>  a budget period (YYYYMMDD or YYYYMM): hash {tok, cost, rtok, rcost}; cost in nano-dollars

Per-rule arguments (``RULE_FIELDS`` of them, in this order; -1 = no such limit):
  counter, rpm, tpm, concurrency, burst, tokens/day, tokens/month, cost/day, cost/month, strict, shadow
"""

from __future__ import annotations

RULE_FIELDS = 11

_COMMON = r"""
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Give back what one call in flight held: its strict-budget reservation, from the periods it was made in.
local function release(P, rid)
  local held = redis.call('HGET', P .. ':rsv', rid)
  if not held then return end
  local tok, cost, day, month = string.match(held, '(%S+) (%S+) (%S+) (%S+)')
  for _, period in ipairs({day, month}) do
    local b = P .. ':b:' .. period
    if redis.call('EXISTS', b) == 1 then
      -- "0 - n", not "-n": Lua writes minus zero as "-0", which HINCRBY refuses.
      redis.call('HINCRBY', b, 'rtok', 0 - tonumber(tok))
      redis.call('HINCRBY', b, 'rcost', 0 - tonumber(cost))
    end
  end
  redis.call('HDEL', P .. ':rsv', rid)
end

-- Give back what the dead calls of a level (in flight past their expiry) still held.
local function purge(P, now)
  local fl = P .. ':fl'
  local dead = redis.call('ZRANGEBYSCORE', fl, '-inf', now)
  if #dead == 0 then return end
  for _, rid in ipairs(dead) do release(P, rid) end
  redis.call('ZREMRANGEBYSCORE', fl, '-inf', now)
end
"""

# ARGV: request id, reserve tokens, max cost (nano), day, day ttl (s), day reset (ms), month, month ttl (s),
#       month reset (ms), in-flight ttl (ms), rule count, then RULE_FIELDS per rule.
# Returns {admitted 0|1, refused rule index (1-based, 0 none), what, retry after (ms),
#          request limit, requests remaining, requests reset (ms), token limit, tokens remaining, tokens reset (ms),
#          shadow refusals "level:id:what,..."}
ADMIT = _COMMON + r"""
local rid = ARGV[1]
local reserve = tonumber(ARGV[2])
local max_cost = tonumber(ARGV[3])
local day, day_ttl, day_reset = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local month, month_ttl, month_reset = ARGV[7], tonumber(ARGV[8]), tonumber(ARGV[9])
local flight_ttl = tonumber(ARGV[10])
local n = tonumber(ARGV[11])
local now = now_ms()

local rules = {}
for i = 1, n do
  local b = 11 + (i - 1) * """ + str(RULE_FIELDS) + r"""
  rules[i] = {P = 'sb:l:' .. ARGV[b + 1], name = ARGV[b + 1], rpm = tonumber(ARGV[b + 2]), tpm = tonumber(ARGV[b + 3]),
              conc = tonumber(ARGV[b + 4]), burst = tonumber(ARGV[b + 5]), tpd = tonumber(ARGV[b + 6]),
              tpmo = tonumber(ARGV[b + 7]), cpd = tonumber(ARGV[b + 8]), cpmo = tonumber(ARGV[b + 9]),
              strict = ARGV[b + 10] == '1', shadow = ARGV[b + 11] == '1'}
end

local function budget_refusal(r, key, used_field, held_field, limit, need, reset)
  if limit < 0 then return nil end
  local v = redis.call('HMGET', key, used_field, held_field)
  local used, held = tonumber(v[1] or '0'), tonumber(v[2] or '0')
  if r.strict then
    if used + held + need > limit then return reset end
  elseif used >= limit then
    return reset
  end
  return nil
end

-- Phase 1: check every level without charging anything.
local refused, what, retry = 0, '', 0
local shadows = {}
local bucket_left = {}
for i, r in ipairs(rules) do
  local P = r.P
  local why, wait = nil, 0
  if r.conc >= 0 or r.strict then purge(P, now) end
  if r.rpm >= 0 then
    local used = tonumber(redis.call('GET', P .. ':rpm') or '0')
    r.rpm_used = used
    if used + 1 > r.rpm then why, wait = 'requests_per_minute', redis.call('PTTL', P .. ':rpm') end
  end
  if not why and r.burst >= 0 then
    local rate = (r.rpm >= 0 and r.rpm or r.burst) / 60000
    local b = redis.call('HMGET', P .. ':bkt', 't', 'ts')
    local left = r.burst
    if b[1] then left = math.min(r.burst, tonumber(b[1]) + (now - tonumber(b[2])) * rate) end
    bucket_left[i] = left
    if left < 1 then why, wait = 'burst', math.ceil((1 - left) / rate) end
  end
  if not why and r.tpm >= 0 then
    local used = tonumber(redis.call('GET', P .. ':tpm') or '0')
    r.tpm_used = used
    if used > 0 and used + reserve > r.tpm then why, wait = 'tokens_per_minute', redis.call('PTTL', P .. ':tpm') end
  end
  if not why and r.conc >= 0 then
    if redis.call('ZCARD', P .. ':fl') >= r.conc then why, wait = 'max_concurrency', 1000 end
  end
  if not why then
    local d, m = P .. ':b:' .. day, P .. ':b:' .. month
    local w = budget_refusal(r, d, 'tok', 'rtok', r.tpd, reserve, day_reset)
    if w then why, wait = 'tokens_per_day', w end
    if not why then w = budget_refusal(r, m, 'tok', 'rtok', r.tpmo, reserve, month_reset)
      if w then why, wait = 'tokens_per_month', w end end
    if not why then w = budget_refusal(r, d, 'cost', 'rcost', r.cpd, max_cost, day_reset)
      if w then why, wait = 'cost_per_day', w end end
    if not why then w = budget_refusal(r, m, 'cost', 'rcost', r.cpmo, max_cost, month_reset)
      if w then why, wait = 'cost_per_month', w end end
  end
  if why then
    if r.shadow then
      table.insert(shadows, r.name .. ':' .. why)
    elseif refused == 0 then
      refused, what, retry = i, why, wait
    end
  end
end

-- The tightest level's figures for the rate-limit headers, from what phase 1 read (plus what this call
-- was charged); only the chosen counters' expiries are read.
local function headers(charged)
  local best = {requests = {nil, -1, -1}, tokens = {nil, -1, -1}}
  for _, r in ipairs(rules) do
    if not r.shadow then
      for _, kind in ipairs({{'requests', r.rpm, ':rpm', 'rpm_used', 1}, {'tokens', r.tpm, ':tpm', 'tpm_used', reserve}}) do
        local name, limit, suffix, field, step = kind[1], kind[2], kind[3], kind[4], kind[5]
        if limit >= 0 then
          local used = r[field]
          if used == nil then used = tonumber(redis.call('GET', r.P .. suffix) or '0')
          elseif charged then used = used + step end
          local left = math.max(limit - used, 0)
          if best[name][3] < 0 or left < best[name][3] then best[name] = {r.P .. suffix, limit, left} end
        end
      end
    end
  end
  local out = {}
  for _, name in ipairs({'requests', 'tokens'}) do
    local key, limit, left = best[name][1], best[name][2], best[name][3]
    local reset = 0
    if key then
      reset = redis.call('PTTL', key)
      if reset < 0 then reset = 60000 end
    end
    table.insert(out, limit)
    table.insert(out, left)
    table.insert(out, reset)
  end
  return out[1], out[2], out[3], out[4], out[5], out[6]
end

if refused > 0 then
  local rl, rr, rt, tl, tr, tt = headers(false)
  return {0, refused, what, retry, rl, rr, rt, tl, tr, tt, table.concat(shadows, ',')}
end

-- Phase 2: every level fits (or only shadow levels refused): charge them all.
for i, r in ipairs(rules) do
  local P = r.P
  if r.rpm >= 0 then
    if redis.call('INCR', P .. ':rpm') == 1 then redis.call('PEXPIRE', P .. ':rpm', 60000) end
  end
  if r.tpm >= 0 then
    redis.call('INCRBY', P .. ':tpm', reserve)
    if redis.call('PTTL', P .. ':tpm') < 0 then redis.call('PEXPIRE', P .. ':tpm', 60000) end
  end
  if r.burst >= 0 then
    redis.call('HSET', P .. ':bkt', 't', (bucket_left[i] or r.burst) - 1, 'ts', now)
    redis.call('PEXPIRE', P .. ':bkt', 3600000)
  end
  if r.conc >= 0 or r.strict then
    redis.call('ZADD', P .. ':fl', now + flight_ttl, rid)
    redis.call('PEXPIRE', P .. ':fl', flight_ttl * 2)
  end
  if r.strict and (r.tpd >= 0 or r.tpmo >= 0 or r.cpd >= 0 or r.cpmo >= 0) then
    redis.call('HSET', P .. ':rsv', rid, reserve .. ' ' .. max_cost .. ' ' .. day .. ' ' .. month)
    redis.call('PEXPIRE', P .. ':rsv', flight_ttl * 2)
    for _, pt in ipairs({{day, day_ttl}, {month, month_ttl}}) do
      local b = P .. ':b:' .. pt[1]
      redis.call('HINCRBY', b, 'rtok', reserve)
      redis.call('HINCRBY', b, 'rcost', max_cost)
      redis.call('EXPIRE', b, pt[2])
    end
  end
end
local rl, rr, rt, tl, tr, tt = headers(true)
return {1, 0, '', 0, rl, rr, rt, tl, tr, tt, table.concat(shadows, ',')}
"""

# ARGV: request id, actual tokens, actual cost (nano), reserved tokens, day, day ttl (s), month, month ttl (s),
#       stream key, event payload (JSON), rule count, then per rule: counter, tpm (0|1), in flight (0|1),
#       strict (0|1), budget (0|1).
# With no rules and no payload it is never called. The event is appended in the same round trip, so a
# call is charged and recorded together or not at all.
SETTLE_FIELDS = 5
SETTLE = _COMMON + r"""
local rid = ARGV[1]
local tokens, cost, reserved = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local day, day_ttl, month, month_ttl = ARGV[5], tonumber(ARGV[6]), ARGV[7], tonumber(ARGV[8])
local stream, payload = ARGV[9], ARGV[10]
local n = tonumber(ARGV[11])
for i = 1, n do
  local b = 11 + (i - 1) * """ + str(SETTLE_FIELDS) + r"""
  local P = 'sb:l:' .. ARGV[b + 1]
  if ARGV[b + 2] == '1' and tokens > reserved then
    redis.call('INCRBY', P .. ':tpm', tokens - reserved)
    if redis.call('PTTL', P .. ':tpm') < 0 then redis.call('PEXPIRE', P .. ':tpm', 60000) end
  end
  if ARGV[b + 3] == '1' then
    redis.call('ZREM', P .. ':fl', rid)
    release(P, rid)
  end
  if ARGV[b + 5] == '1' then
    for _, pt in ipairs({{day, day_ttl}, {month, month_ttl}}) do
      local key = P .. ':b:' .. pt[1]
      redis.call('HINCRBY', key, 'tok', tokens)
      redis.call('HINCRBY', key, 'cost', cost)
      redis.call('EXPIRE', key, pt[2])
    end
  end
end
if payload ~= '' then redis.call('XADD', stream, '*', 'e', payload) end
return 1
"""
