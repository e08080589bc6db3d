import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * A Lua script sent by its SHA (EVALSHA), and in full only when the server does not know it yet (after a restart):
 * one round trip per call in the common case.
 */
export class LuaScript {
  readonly #lua: string;
  readonly #sha: string;

  constructor(lua: string) {
    this.#lua = lua;
    this.#sha = createHash('sha1').update(lua).digest('hex');
  }

  /** Makes the server know the script, so the first call of it is one round trip too. */
  async load(client: Redis): Promise<void> {
    await client.script('LOAD', this.#lua);
  }

  async run(client: Redis, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return client.eval(this.#lua, keys.length, ...keys, ...args);
    }
  }
}

// Time for leases comes from the server (TIME), so processes with skewed clocks agree on who holds what. Limit
// windows use the caller's clock, as the in-memory store does (the interface passes `now`).
const NOW = `
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

/**
 * Window counters: KEYS from `kbase` hold (current, previous) window pairs, ARGV from `abase` five values per
 * request: amount, limit, window ms, sliding (1/0), window start. Same arithmetic as MemoryLimitsStore.
 */
const LIMITS = `
local function limits_check(kbase, abase, n, now)
  for i = 0, n - 1 do
    local a = abase + 5 * i
    local amount, limit = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
    local window, start = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 4])
    local used = tonumber(redis.call('GET', KEYS[kbase + 2 * i]) or '0')
    if ARGV[a + 3] == '1' then
      local previous = tonumber(redis.call('GET', KEYS[kbase + 2 * i + 1]) or '0')
      used = used + previous * (1 - (now - start) / window)
    end
    -- a sum of prices reaching a USD limit exactly is not over it (0.1 + 0.1 + 0.1 > 0.3 in binary)
    if used + amount > limit + 1e-9 then return i, used end
  end
  return nil, 0
end

local function limits_apply(kbase, abase, n)
  for i = 0, n - 1 do
    local a = abase + 5 * i
    local key = KEYS[kbase + 2 * i]
    redis.call('INCRBYFLOAT', key, ARGV[a])
    -- The window stays readable through the next one, where it is the sliding window's "previous".
    redis.call('PEXPIRE', key, 2 * tonumber(ARGV[a + 2]) + 60000)
  end
end
`;

/**
 * An idempotency record is a hash: fp (argument fingerprint), state (in_flight | done | crashed), token (the
 * lease holder), lease (epoch ms the lease runs to), value (the recorded result), waiters (someone waits: publish
 * when it settles).
 */
const BEGIN = `
local function idem_begin(key, fp, ttl, lease, token, on_crash, channel)
  local r = redis.call('HMGET', key, 'fp', 'state', 'token', 'lease', 'value')
  local now = now_ms()
  if not r[2] then
    redis.call('HSET', key, 'fp', fp, 'state', 'in_flight', 'token', token, 'lease', now + lease)
    redis.call('PEXPIRE', key, ttl)
    return {'acquired'}
  end
  if r[1] ~= fp then return {'conflict'} end
  if r[2] == 'done' then return {'replay', r[5]} end
  if r[2] == 'crashed' then return {'crashed'} end
  if r[3] == token then return {'acquired'} end
  local held_until = tonumber(r[4])
  if held_until > now then
    redis.call('HSET', key, 'waiters', '1')
    return {'in_flight', held_until - now}
  end
  -- The holder stopped renewing its lease: its process died with the call in flight.
  if on_crash == 'retry' then
    redis.call('HSET', key, 'token', token, 'lease', now + lease)
    redis.call('HINCRBY', key, 'takeovers', 1)
    return {'acquired'}
  end
  redis.call('HSET', key, 'state', 'crashed')
  if redis.call('HEXISTS', key, 'waiters') == 1 then redis.call('PUBLISH', channel, key) end
  return {'crashed'}
end
`;

/**
 * KEYS: kill global, kill agent, kill run, idempotency record, then (current, previous) per limit.
 * ARGV: check kill, has record, fingerprint, ttl, lease, token, on crash, channel, now, n, then 5 per limit.
 */
export const ADMIT = new LuaScript(`${NOW}${LIMITS}${BEGIN}
if ARGV[1] == '1' then
  for i = 1, 3 do
    local record = redis.call('GET', KEYS[i])
    if record then return {'killed', record} end
  end
end
local n = tonumber(ARGV[10])
local failed, used = limits_check(5, 11, n, tonumber(ARGV[9]))
if failed then return {'limited', failed, string.format('%.17g', used)} end
limits_apply(5, 11, n)
if ARGV[2] == '1' then
  local begun = idem_begin(KEYS[4], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7], ARGV[8])
  table.insert(begun, 1, 'admitted')
  return begun
end
return {'admitted'}
`);

/** KEYS: (current, previous) per limit. ARGV: now, n, then 5 per limit. */
export const TAKE = new LuaScript(`${LIMITS}
local n = tonumber(ARGV[2])
local failed, used = limits_check(1, 3, n, tonumber(ARGV[1]))
if failed then return {failed, string.format('%.17g', used)} end
limits_apply(1, 3, n)
return {}
`);

/** Same layout as TAKE, without the check. */
export const ADD = new LuaScript(`${LIMITS}
limits_apply(1, 3, tonumber(ARGV[2]))
return 1
`);

/** KEYS: the record. ARGV: fingerprint, ttl, lease, token, on crash, channel. */
export const BEGIN_ONLY = new LuaScript(`${NOW}${BEGIN}
return idem_begin(KEYS[1], ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4], ARGV[5], ARGV[6])
`);

/**
 * KEYS: the record. ARGV: token, fingerprint, encoded value, ttl, channel. The first result recorded wins; a record
 * that vanished (expired, or lost by a Redis without persistence) is written again so retries replay it.
 */
export const COMPLETE = new LuaScript(`
local r = redis.call('HMGET', KEYS[1], 'fp', 'state', 'token')
if r[2] == 'done' then return 0 end
if r[2] and r[3] ~= ARGV[1] and r[1] ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], 'fp', ARGV[2], 'state', 'done', 'value', ARGV[3])
redis.call('HDEL', KEYS[1], 'lease')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
if redis.call('HEXISTS', KEYS[1], 'waiters') == 1 then redis.call('PUBLISH', ARGV[5], KEYS[1]) end
return 1
`);

/** KEYS: the record. ARGV: token, channel. Only the lease holder's in-flight record is dropped. */
export const RELEASE = new LuaScript(`
local r = redis.call('HMGET', KEYS[1], 'state', 'token', 'waiters')
if r[1] ~= 'in_flight' or r[2] ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if r[3] then redis.call('PUBLISH', ARGV[2], KEYS[1]) end
return 1
`);

/** KEYS: records. ARGV: lease ms, then the token per record. */
export const RENEW_LEASES = new LuaScript(`${NOW}
local now = now_ms()
for i, key in ipairs(KEYS) do
  local r = redis.call('HMGET', key, 'state', 'token')
  if r[1] == 'in_flight' and r[2] == ARGV[i + 1] then
    redis.call('HSET', key, 'lease', now + tonumber(ARGV[1]))
  end
end
return 1
`);

/** KEYS: the slot set. ARGV: limit, token, lease ms. Expired slots (their process died) are dropped first. */
export const ACQUIRE_SLOT = new LuaScript(`${NOW}
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[3]))
return 1
`);

/** KEYS: slot sets. ARGV: lease ms, then the token per set. */
export const RENEW_SLOTS = new LuaScript(`${NOW}
local now = now_ms()
local lease = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  if redis.call('ZADD', key, 'XX', 'CH', now + lease, ARGV[i + 1]) == 1 then redis.call('PEXPIRE', key, 2 * lease) end
end
return 1
`);

/** KEYS: the kill key, the index of kill keys. ARGV: record JSON, ttl ms (0: none), channel, message. */
export const KILL = new LuaScript(`
if tonumber(ARGV[2]) > 0 then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`);

/** KEYS: the kill key, the index. ARGV: channel, message. */
export const REVIVE = new LuaScript(`
local removed = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2])
return removed
`);

/**
 * KEYS: pending approvals (hash), the decision key. ARGV: approval id, decision JSON, ttl ms, channel, message.
 * Only a pending request can be decided, and only once.
 */
export const DECIDE = new LuaScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
`);

/**
 * KEYS: pending approvals, the decision key. ARGV: the refused decision JSON, approval id, pending JSON.
 * Drops a decision that was refused (if it is still the same one) and puts the request back in the queue.
 */
export const DROP_DECISION = new LuaScript(`
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3])
return 1
`);

/** Every script, loaded when the stores connect and again after Redis restarts (a restart forgets them). */
export const ALL_SCRIPTS: readonly LuaScript[] = [
  ADMIT,
  TAKE,
  ADD,
  BEGIN_ONLY,
  COMPLETE,
  RELEASE,
  RENEW_LEASES,
  ACQUIRE_SLOT,
  RENEW_SLOTS,
  KILL,
  REVIVE,
  DECIDE,
  DROP_DECISION,
];
