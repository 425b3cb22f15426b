// The Lua scripts, one per CounterStore operation, and their registration on the caller's ioredis client.
//
// Every script touches only keys of one shard (one hash tag, one cluster slot). Keys it builds itself
// (reservation items, threshold marks, claimed batches) extend a declared key of the same shard, so
// they share its slot and any ioredis `keyPrefix`. Amounts arrive as decimal strings and go to Redis as
// strings (INCRBY/HINCRBY parse them as 64-bit integers); numbers are only used for comparisons.
import type { Cluster, Redis, Result } from 'ioredis';

/** Helpers shared by apply and read. */
const COMMON = `
local function int(x) return string.format('%.0f', x) end

-- Gives back what a reservation holds on each counter that still exists (an expired window is gone).
local function undo_reservation(rs, rz, id)
  local packed = redis.call('HGET', rs, id)
  if packed then
    local items = cmsgpack.unpack(packed)
    for i = 1, #items, 2 do
      if redis.call('EXISTS', items[i]) == 1 then redis.call('DECRBY', items[i], items[i + 1]) end
    end
    redis.call('HDEL', rs, id)
  end
  redis.call('ZREM', rz, id)
end

local function release_expired(rs, rz, now)
  local ids = redis.call('ZRANGEBYSCORE', rz, '-inf', now)
  for i = 1, #ids do undo_reservation(rs, rz, ids[i]) end
end

-- Effective limit per candidate counter: the override if set, else the plan's; nil = not limited, not touched.
-- Candidate i's override field is ARGV[base + (i - 1) * stride]; its plan limit comes 'plan' arguments later.
local function resolve_limits(ov, n, base, stride, plan)
  local limits = {}
  if n == 0 then return limits end
  local fields = {}
  for i = 1, n do fields[i] = ARGV[base + (i - 1) * stride] end
  local set = {}
  if redis.call('EXISTS', ov) == 1 then set = redis.call('HMGET', ov, unpack(fields)) end
  for i = 1, n do
    local l = set[i]
    if not l then
      l = ARGV[base + (i - 1) * stride + plan]
      if l == '' then l = nil end
    end
    if l then limits[i] = tonumber(l) end
  end
  return limits
end

local function current(key)
  return tonumber(redis.call('GET', key) or '0')
end
`;

/**
 * apply: CounterStore.apply in one atomic step.
 *
 * KEYS[1] shard key stem (counter keys are <stem>:c:<override field>:<period key>)
 * KEYS[2] seeded marker  KEYS[3] overrides hash  KEYS[4] reservations hash  KEYS[5] reservation expiry zset
 * KEYS[6..8] op-id hashes (previous, current, next time bucket)
 * KEYS[9] unflushed usage hash  KEYS[10] unflushed events list  KEYS[11] flush queue zset
 *
 * ARGV[1] op id   ARGV[2] now (ms)   ARGV[3] mode: e(nforce) | r(ecord)   ARGV[4] seed: r(equired) | a(uto)
 * ARGV[5] expiry of the current op-id hash (ms)   ARGV[6] reservation id to settle, or ''
 * ARGV[7] reservation id to hold, or ''   ARGV[8] its expiry (ms), or ''
 * ARGV[9] candidates   ARGV[10] thresholds   ARGV[11] usage deltas   ARGV[12] events
 * ARGV[13] usage deltas kept on rejection   ARGV[14] events kept on rejection
 * ARGV[15] this shard's dirty member in the flush queue   ARGV[16] its score
 * then: thresholds (percent), one each
 *       candidate counters (scope x meter x period window), 6 each: override field (scope:id:meter:period),
 *         period key, plan limit or '', amount (incl. reserved), reserved, expiry (ms) or ''
 *       usage deltas, 3 each: field, amount, cost (pico-dollars); events, 1 each (JSON)
 *       rejection deltas, 3 each; rejection events, 1 each
 *
 * Returns {'S'} needs seed | {'D', 'a'|'r'} duplicate | {'R', counters, violated, first} | {'A', counters, crossed}
 * where counters = {candidate, limit, used, ...}, violated = {candidate, ...}, first = the violated candidates
 * rejecting for the first time in their window, crossed = {candidate, threshold, ...}.
 */
export const APPLY_LUA = `${COMMON}
local now = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[4] == 'r' then return {'S'} end
  redis.call('SET', KEYS[2], '1')
end
release_expired(KEYS[4], KEYS[5], ARGV[2])
local op = ARGV[1]
local seen = redis.call('HGET', KEYS[7], op) or redis.call('HGET', KEYS[6], op) or redis.call('HGET', KEYS[8], op)
if seen then return {'D', seen} end
if ARGV[6] ~= '' then undo_reservation(KEYS[4], KEYS[5], ARGV[6]) end

local ncand, nwarn = tonumber(ARGV[9]), tonumber(ARGV[10])
local nuse, nev, nruse, nrev = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13]), tonumber(ARGV[14])
local warn = 17
local cand = warn + nwarn
local use = cand + ncand * 6
local ev = use + nuse * 3
local ruse = ev + nev
local rev = ruse + nruse * 3
local limits = resolve_limits(KEYS[3], ncand, cand, 6, 2)
local function counter(i)
  local b = cand + (i - 1) * 6
  return KEYS[1] .. ':c:' .. ARGV[b] .. ':' .. ARGV[b + 1]
end

local function keep(ubase, n, ebase, ne)
  for j = 0, n - 1 do
    local p = ubase + j * 3
    redis.call('HINCRBY', KEYS[9], 'a' .. ARGV[p], ARGV[p + 1])
    if ARGV[p + 2] ~= '0' then redis.call('HINCRBY', KEYS[9], 'c' .. ARGV[p], ARGV[p + 2]) end
  end
  for j = 0, ne - 1 do redis.call('RPUSH', KEYS[10], ARGV[ebase + j]) end
  if n + ne > 0 then redis.call('ZADD', KEYS[11], 'NX', ARGV[16], ARGV[15]) end
end

local function remember(outcome)
  redis.call('HSET', KEYS[7], op, outcome)
  redis.call('PEXPIREAT', KEYS[7], ARGV[5])
end

local used = {}
if ARGV[3] == 'e' then
  local violated = {}
  for i = 1, ncand do
    local l = limits[i]
    if l then
      used[i] = current(counter(i))
      local amount = tonumber(ARGV[cand + (i - 1) * 6 + 3])
      if l >= 0 and amount > 0 and used[i] + amount > l then violated[#violated + 1] = i end
    end
  end
  if #violated > 0 then
    local counters = {}
    for i = 1, ncand do
      if limits[i] then
        counters[#counters + 1] = i; counters[#counters + 1] = limits[i]; counters[#counters + 1] = used[i]
      end
    end
    -- The first rejection by a counter in its window is marked like a threshold (-1), for quota_exceeded events.
    local first = {}
    for _, i in ipairs(violated) do
      local key = counter(i)
      if redis.call('SADD', key .. ':w', '-1') == 1 then
        local exp = ARGV[cand + (i - 1) * 6 + 5]
        if exp ~= '' then redis.call('PEXPIREAT', key .. ':w', exp) end
        first[#first + 1] = i
      end
    end
    remember('r')
    keep(ruse, nruse, rev, nrev)
    return {'R', counters, violated, first}
  end
end

local counters, crossed, held = {}, {}, {}
for i = 1, ncand do
  local l = limits[i]
  if l then
    local b = cand + (i - 1) * 6 + 1
    local key = counter(i)
    local amount = tonumber(ARGV[b + 2])
    local after
    if amount ~= 0 then
      after = redis.call('INCRBY', key, ARGV[b + 2])
      if ARGV[b + 4] ~= '' then redis.call('PEXPIREAT', key, ARGV[b + 4]) end
    else
      after = used[i] or current(key)
    end
    if ARGV[b + 3] ~= '0' then held[#held + 1] = key; held[#held + 1] = ARGV[b + 3] end
    counters[#counters + 1] = i; counters[#counters + 1] = l; counters[#counters + 1] = after
    if l > 0 and amount > 0 then
      local before = after - amount
      for w = 0, nwarn - 1 do
        local mark = tonumber(ARGV[warn + w]) * l
        if before * 100 < mark and after * 100 >= mark then
          if redis.call('SADD', key .. ':w', ARGV[warn + w]) == 1 then
            if ARGV[b + 4] ~= '' then redis.call('PEXPIREAT', key .. ':w', ARGV[b + 4]) end
            crossed[#crossed + 1] = i; crossed[#crossed + 1] = ARGV[warn + w]
          end
        end
      end
    end
  end
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[4], ARGV[7], cmsgpack.pack(held))
  redis.call('ZADD', KEYS[5], ARGV[8], ARGV[7])
  -- Both live until a day after the last reservation would expire, so an abandoned shard cleans itself up.
  local last = redis.call('ZRANGE', KEYS[5], -1, -1, 'WITHSCORES')
  local at = int(tonumber(last[2]) + 86400000)
  redis.call('PEXPIREAT', KEYS[4], at)
  redis.call('PEXPIREAT', KEYS[5], at)
end
keep(use, nuse, ev, nev)
remember('a')
return {'A', counters, crossed}
`;

/**
 * read: current counters and effective limits (releasing expired reservations first).
 *
 * KEYS[1] shard key stem  KEYS[2] seeded marker  KEYS[3] overrides hash  KEYS[4] reservations hash
 * KEYS[5] reservation expiry zset
 * ARGV[1] now (ms)  ARGV[2] seed: r(equired) | a(uto)  ARGV[3] candidates
 * then candidates, 3 each: override field, period key, plan limit or ''
 *
 * Returns {'S'} needs seed | {'O', counters} with counters = {candidate, limit, used, ...}.
 */
export const READ_LUA = `${COMMON}
if redis.call('EXISTS', KEYS[2]) == 0 then
  if ARGV[2] == 'r' then return {'S'} end
  redis.call('SET', KEYS[2], '1')
end
release_expired(KEYS[4], KEYS[5], ARGV[1])
local ncand = tonumber(ARGV[3])
local limits = resolve_limits(KEYS[3], ncand, 4, 3, 2)
local counters = {}
for i = 1, ncand do
  if limits[i] then
    local b = 4 + (i - 1) * 3
    local used = current(KEYS[1] .. ':c:' .. ARGV[b] .. ':' .. ARGV[b + 1])
    counters[#counters + 1] = i; counters[#counters + 1] = limits[i]; counters[#counters + 1] = used
  end
end
return {'O', counters}
`;

/**
 * seed: sets the counters of an unseeded shard, restores its overrides (keeping any set since), marks it seeded.
 *
 * KEYS[1] shard key stem  KEYS[2] seeded marker  KEYS[3] overrides hash
 * ARGV[1] counters  then counters, 4 each: override field, period key, used, expiry (ms) or ''
 * then overrides, 2 each: field, limit
 *
 * Returns 1 when seeded now, 0 when the shard was already seeded (nothing changed).
 */
export const SEED_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
local n = tonumber(ARGV[1])
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local key = KEYS[1] .. ':c:' .. ARGV[b] .. ':' .. ARGV[b + 1]
  redis.call('SET', key, ARGV[b + 2])
  if ARGV[b + 3] ~= '' then redis.call('PEXPIREAT', key, ARGV[b + 3]) end
end
for j = 2 + 4 * n, #ARGV, 2 do redis.call('HSETNX', KEYS[3], ARGV[j], ARGV[j + 1]) end
redis.call('SET', KEYS[2], '1')
return 1
`;

/**
 * claim: re-issues this shard's stale batches (same id, fresh claim time) and moves its unflushed usage and
 * events, if any, into a new batch.
 *
 * KEYS[1] claims hash (batch id -> claimed at)  KEYS[2] unflushed usage hash  KEYS[3] unflushed events list
 * KEYS[4] flush queue zset  KEYS[5] batch key stem (batch keys are <stem><batchId>:u and :e)
 * ARGV[1] now (ms)  ARGV[2] stale after (ms)  ARGV[3] id for a new batch
 * ARGV[4] this shard's dirty member  ARGV[5] its batch member suffix (members are b:<batchId><suffix>)
 *
 * Returns {{batchId, {usage field, value, ...}, {event, ...}}, ...}; every batch is claimed at ARGV[1].
 */
export const CLAIM_LUA = `
local now, stale = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
local function hand_out(id)
  redis.call('HSET', KEYS[1], id, ARGV[1])
  redis.call('ZADD', KEYS[4], ARGV[1], 'b:' .. id .. ARGV[5])
  out[#out + 1] = {id, redis.call('HGETALL', KEYS[5] .. id .. ':u'), redis.call('LRANGE', KEYS[5] .. id .. ':e', 0, -1)}
end
local claims = redis.call('HGETALL', KEYS[1])
for i = 1, #claims, 2 do
  if tonumber(claims[i + 1]) + stale <= now then hand_out(claims[i]) end
end
local fresh = false
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[5] .. ARGV[3] .. ':u'); fresh = true
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[5] .. ARGV[3] .. ':e'); fresh = true
end
redis.call('ZREM', KEYS[4], ARGV[4])
if fresh then hand_out(ARGV[3]) end
return out
`;

/**
 * ack: forgets acknowledged batches of one shard. Acknowledging twice is harmless.
 *
 * KEYS[1] claims hash  KEYS[2] flush queue zset  KEYS[3] batch key stem
 * ARGV[1] batch member suffix  ARGV[2..] batch ids
 */
export const ACK_LUA = `
for i = 2, #ARGV do
  local id = ARGV[i]
  redis.call('DEL', KEYS[3] .. id .. ':u', KEYS[3] .. id .. ':e')
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], 'b:' .. id .. ARGV[1])
end
return #ARGV - 1
`;

/** Command names on the client. Namespaced so they cannot clash with the caller's own scripts. */
export const COMMANDS = {
  apply: 'tollgateApply',
  read: 'tollgateRead',
  seed: 'tollgateSeed',
  claim: 'tollgateClaim',
  ack: 'tollgateAck',
} as const;

type ScriptArg = string | number;

/** Declared keys per script. Fixed, so ioredis (auto-pipelining, Cluster routing) sees the first key first. */
export const KEY_COUNTS = { apply: 11, read: 5, seed: 3, claim: 5, ack: 3 } as const;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    tollgateApply(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateRead(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateSeed(...keysThenArgs: ScriptArg[]): Result<number, Context>;
    tollgateClaim(...keysThenArgs: ScriptArg[]): Result<unknown, Context>;
    tollgateAck(...keysThenArgs: ScriptArg[]): Result<number, Context>;
  }
}

/**
 * Registers every script on the client (idempotent). ioredis sends EVALSHA, and EVAL when a connection has
 * not loaded a script yet or Redis answers NOSCRIPT (restart, SCRIPT FLUSH, failover).
 */
export function registerScripts(client: Redis | Cluster): void {
  client.defineCommand(COMMANDS.apply, { lua: APPLY_LUA, numberOfKeys: KEY_COUNTS.apply });
  client.defineCommand(COMMANDS.read, { lua: READ_LUA, numberOfKeys: KEY_COUNTS.read });
  client.defineCommand(COMMANDS.seed, { lua: SEED_LUA, numberOfKeys: KEY_COUNTS.seed });
  client.defineCommand(COMMANDS.claim, { lua: CLAIM_LUA, numberOfKeys: KEY_COUNTS.claim });
  client.defineCommand(COMMANDS.ack, { lua: ACK_LUA, numberOfKeys: KEY_COUNTS.ack });
}
