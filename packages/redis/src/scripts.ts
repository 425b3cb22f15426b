// The Lua scripts, one per CounterStore operation, and their registration on the caller's ioredis client.
//
// Every script touches only keys of one shard (one hash tag, one cluster slot). Keys it builds itself
// (reservation items, threshold marks, claimed batches) extend a declared key of the same shard, so
// they share its slot and any ioredis `keyPrefix`. Amounts arrive as decimal strings and go to Redis as
// strings (INCRBY/HINCRBY parse them as 64-bit integers); numbers are only used for comparisons.
import type { Cluster, Redis, Result } from 'ioredis';

/**
 * Argument checks shared by every script. A script parses and checks ALL of its KEYS and ARGV before its first
 * write and answers an error reply when they do not have exactly the documented shape: a count read from ARGV
 * is never trusted further than the arguments that are actually there, so a misaligned call (wrong key count,
 * a timestamp where a count belongs) fails at once instead of looping, and leaves nothing half-written
 * (Redis does not roll a script back).
 */
export const CHECKS = `
local NARGV = #ARGV
local function bad(msg) error(msg, 0) end
local function keys(n)
  if #KEYS ~= n then bad('expects ' .. n .. ' keys, got ' .. #KEYS) end
  for i = 1, n do if KEYS[i] == '' then bad('KEYS[' .. i .. '] is empty') end end
end
local function integer(p, what)
  local v = ARGV[p]
  if v == nil or not string.find(v, '^%-?%d+$') then
    bad(what .. ' (ARGV[' .. p .. ']) must be an integer, got ' .. (v == nil and 'nothing' or ('"' .. string.sub(v, 1, 40) .. '"')))
  end
  return v
end
local function integer_or_empty(p, what)
  if ARGV[p] == '' then return '' end
  return integer(p, what)
end
local function present(p, what)
  if ARGV[p] == nil then bad(what .. ' (ARGV[' .. p .. ']) is missing') end
  return ARGV[p]
end
local function one_of(p, a, b, what)
  local v = ARGV[p]
  if v ~= a and v ~= b then bad(what .. ' (ARGV[' .. p .. ']) must be ' .. a .. ' or ' .. b) end
  return v
end
-- A count at ARGV[p] of items \`width\` arguments wide, which must all be among the arguments given.
local function count(p, width, what)
  local n = tonumber(integer(p, what))
  if n < 0 or p + n * width > NARGV then
    bad(what .. ' (ARGV[' .. p .. ']) = ' .. ARGV[p] .. ' does not fit the ' .. NARGV .. ' arguments given')
  end
  return n
end
-- Runs the checks; an error reply names the script and the first problem.
local function checked(script, parse)
  local ok, err = pcall(parse)
  if ok then return nil end
  return redis.error_reply('ERR tollgate ' .. script .. ': bad arguments: ' .. tostring(err))
end
`;

/**
 * Helpers shared by apply and read. Both receive the candidate counters compactly: every period window once,
 * then one group per scope x meter with its plan limit for each window. Candidate i = (group - 1) * windows + w.
 *
 * Shard keys are derived from the declared stem KEYS[1] (`<prefix>{<tag>}`): they share its hash tag, so its slot
 * and any ioredis keyPrefix. <stem>:seeded marker, :ov overrides hash, :rs reservations hash, :rz reservation
 * expiry zset, :o:<bucket> op-id hash, :u unflushed usage hash, :e unflushed events list,
 * :c:<scope>:<id>:<meter>:<period>:<period key> counter, <counter>:w threshold marks.
 */
const COMMON = `${CHECKS}
-- '' until the key count is checked, so a call without keys gets the checks' error, not a Lua one.
local stem = KEYS[1] or ''
local SEEDED, OV, RS, RZ = stem .. ':seeded', stem .. ':ov', stem .. ':rs', stem .. ':rz'

local function int(x) return string.format('%.0f', x) end

-- Gives back what a reservation holds on each counter that still exists (an expired window is gone).
local function undo_reservation(id)
  local packed = redis.call('HGET', RS, id)
  if packed then
    local items = cmsgpack.unpack(packed)
    for i = 1, #items, 2 do
      if redis.call('EXISTS', items[i]) == 1 then redis.call('DECRBY', items[i], items[i + 1]) end
    end
    redis.call('HDEL', RS, id)
  end
  redis.call('ZREM', RZ, id)
end

local function release_expired(now)
  local ids = redis.call('ZRANGEBYSCORE', RZ, '-inf', now)
  for i = 1, #ids do undo_reservation(ids[i]) end
end

-- Reads and checks the candidates at ARGV[p]: windows (count, then period, period key, expiry or '' each), then
-- groups (count, then override field prefix scope:id:meter, [amount, reserved,] and one plan limit or '' per
-- window). Returns the candidates {field, key, expiry, plan, amount, amount_arg, reserved} and the next position.
local function read_candidates(p, with_amounts)
  local nwin = count(p, 3, 'window count'); p = p + 1
  local win = {}
  for w = 1, nwin do
    win[w] = {present(p, 'period'), present(p + 1, 'period key'), integer_or_empty(p + 2, 'window expiry')}
    p = p + 3
  end
  local width = 1 + nwin + (with_amounts and 2 or 0)
  local ngroup = count(p, width, 'counter group count'); p = p + 1
  local cands = {}
  for g = 1, ngroup do
    local prefix = ARGV[p]; p = p + 1
    local amount, reserved = '0', '0'
    if with_amounts then
      amount, reserved = integer(p, 'amount'), integer(p + 1, 'reserved amount'); p = p + 2
    end
    for w = 1, nwin do
      local field = prefix .. ':' .. win[w][1]
      local plan = integer_or_empty(p, 'plan limit'); p = p + 1
      cands[#cands + 1] = {
        field = field, key = stem .. ':c:' .. field .. ':' .. win[w][2], expiry = win[w][3],
        plan = plan, amount = tonumber(amount), amount_arg = amount, reserved = reserved,
      }
    end
  end
  return cands, p
end

-- Checks a list of usage deltas (count, then field, amount, cost each) at ARGV[p]; returns the next position.
local function check_usage(p)
  local n = count(p, 3, 'usage count'); p = p + 1
  for j = 1, n do integer(p + 1, 'usage amount'); integer(p + 2, 'usage cost'); p = p + 3 end
  return p
end

-- Checks a list of events (count, then one JSON string each) at ARGV[p]; returns the next position.
local function check_events(p)
  return p + 1 + count(p, 1, 'event count')
end

-- Effective limit per candidate: the override if set, else the plan's; nil = not limited, not touched.
local function resolve_limits(cands)
  local limits = {}
  local set = {}
  if #cands > 0 and redis.call('EXISTS', OV) == 1 then
    local fields = {}
    for i = 1, #cands do fields[i] = cands[i].field end
    set = redis.call('HMGET', OV, unpack(fields))
  end
  for i = 1, #cands do
    local l = set[i]
    if not l and cands[i].plan ~= '' then l = cands[i].plan end
    if l then limits[i] = tonumber(l) end
  end
  return limits
end

local function current(key)
  return tonumber(redis.call('GET', key) or '0')
end

local function seeded_or(seed)
  if redis.call('EXISTS', SEEDED) == 1 then return true end
  if seed == 'r' then return false end
  redis.call('SET', SEEDED, '1')
  return true
end
`;

/**
 * apply: CounterStore.apply in one atomic step.
 *
 * KEYS[1] shard key stem <prefix>{<tag>} (the shard's other keys derive from it, see above)
 * KEYS[2] flush queue zset (one per node, or the one in this shard's slot on a cluster)
 *
 * ARGV[1] op id   ARGV[2] now (ms)   ARGV[3] mode: e(nforce) | r(ecord)   ARGV[4] seed: r(equired) | a(uto)
 * ARGV[5] op-id time bucket b (ids are looked up in <stem>:o:<b-1>, <b>, <b+1> and written to <b>)
 * ARGV[6] expiry of <stem>:o:<b> (ms)   ARGV[7] reservation id to settle, or ''
 * ARGV[8] reservation id to hold, or ''   ARGV[9] its expiry (ms), or ''
 * ARGV[10] this shard's dirty member in the flush queue   ARGV[11] its score
 * ARGV[12] thresholds (count), then each (percent)
 * then the candidates (see read_candidates, with amount incl. reserved and reserved per group)
 * then usage deltas (count), 3 each: field, amount, cost (pico-dollars); events (count), then each as JSON
 * then the same two lists kept only on rejection; nothing after them.
 *
 * Returns {'S'} needs seed | {'D', 'a'|'r'} duplicate | {'R', counters, violated, first} | {'A', counters, crossed}
 * where counters = {candidate, limit, used, ...}, violated = {candidate, ...}, first = the violated candidates
 * rejecting for the first time in their window, crossed = {candidate, threshold, ...}.
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const APPLY_LUA = `${COMMON}
local warn, nwarn, cands, usage_at, reject_at = {}, 0, nil, 0, 0
local invalid = checked('apply', function()
  keys(2)
  if NARGV < 12 then bad('expects at least 12 arguments, got ' .. NARGV) end
  if ARGV[1] == '' then bad('op id (ARGV[1]) is empty') end
  integer(2, 'now'); one_of(3, 'e', 'r', 'mode'); one_of(4, 'r', 'a', 'seed')
  integer(5, 'op-id bucket'); integer(6, 'op-id expiry')
  if ARGV[8] ~= '' then integer(9, 'reservation expiry')
  elseif ARGV[9] ~= '' then bad('reservation expiry (ARGV[9]) given without a reservation id') end
  if ARGV[10] == '' then bad('dirty member (ARGV[10]) is empty') end
  integer(11, 'dirty score')
  nwarn = count(12, 1, 'threshold count')
  for w = 1, nwarn do warn[w] = integer(12 + w, 'threshold') end
  local p
  cands, p = read_candidates(13 + nwarn, true)
  usage_at = p; p = check_events(check_usage(p))
  reject_at = p; p = check_events(check_usage(p))
  if p ~= NARGV + 1 then bad((NARGV + 1 - p) .. ' unexpected trailing arguments') end
end)
if invalid then return invalid end

local UNFLUSHED, EVENTS, QUEUE = stem .. ':u', stem .. ':e', KEYS[2]
if not seeded_or(ARGV[4]) then return {'S'} end
release_expired(ARGV[2])
local op = ARGV[1]
local bucket = tonumber(ARGV[5])
local OPS = stem .. ':o:' .. ARGV[5]
local seen = redis.call('HGET', OPS, op) or redis.call('HGET', stem .. ':o:' .. int(bucket - 1), op)
  or redis.call('HGET', stem .. ':o:' .. int(bucket + 1), op)
if seen then return {'D', seen} end
if ARGV[7] ~= '' then undo_reservation(ARGV[7]) end

local limits = resolve_limits(cands)

-- Keeps the usage deltas and events listed at ARGV[p] (checked above).
local function keep(p)
  local n = tonumber(ARGV[p]); p = p + 1
  for j = 1, n do
    redis.call('HINCRBY', UNFLUSHED, 'a' .. ARGV[p], ARGV[p + 1])
    if ARGV[p + 2] ~= '0' then redis.call('HINCRBY', UNFLUSHED, 'c' .. ARGV[p], ARGV[p + 2]) end
    p = p + 3
  end
  local ne = tonumber(ARGV[p]); p = p + 1
  for j = 1, ne do redis.call('RPUSH', EVENTS, ARGV[p]); p = p + 1 end
  if n + ne > 0 then redis.call('ZADD', QUEUE, 'NX', ARGV[11], ARGV[10]) end
end

local function remember(outcome)
  redis.call('HSET', OPS, op, outcome)
  redis.call('PEXPIREAT', OPS, ARGV[6])
end

local used = {}
if ARGV[3] == 'e' then
  local violated = {}
  for i = 1, #cands do
    local l = limits[i]
    if l then
      used[i] = current(cands[i].key)
      local amount = cands[i].amount
      if l >= 0 and amount > 0 and used[i] + amount > l then violated[#violated + 1] = i end
    end
  end
  if #violated > 0 then
    local counters = {}
    for i = 1, #cands do
      if limits[i] then
        counters[#counters + 1] = i; counters[#counters + 1] = limits[i]; counters[#counters + 1] = used[i]
      end
    end
    -- The first rejection by a counter in its window is marked like a threshold (-1), for quota_exceeded events.
    local first = {}
    for _, i in ipairs(violated) do
      local marks = cands[i].key .. ':w'
      if redis.call('SADD', marks, '-1') == 1 then
        if cands[i].expiry ~= '' then redis.call('PEXPIREAT', marks, cands[i].expiry) end
        first[#first + 1] = i
      end
    end
    remember('r')
    keep(reject_at)
    return {'R', counters, violated, first}
  end
end

local counters, crossed, held = {}, {}, {}
for i = 1, #cands do
  local l = limits[i]
  if l then
    local c = cands[i]
    local amount = c.amount
    local after
    if amount ~= 0 then
      after = redis.call('INCRBY', c.key, c.amount_arg)
      if c.expiry ~= '' then redis.call('PEXPIREAT', c.key, c.expiry) end
    else
      after = used[i] or current(c.key)
    end
    if c.reserved ~= '0' then held[#held + 1] = c.key; held[#held + 1] = c.reserved end
    counters[#counters + 1] = i; counters[#counters + 1] = l; counters[#counters + 1] = after
    if l > 0 and amount > 0 then
      local before = after - amount
      for w = 1, nwarn do
        local mark = tonumber(warn[w]) * l
        if before * 100 < mark and after * 100 >= mark then
          if redis.call('SADD', c.key .. ':w', warn[w]) == 1 then
            if c.expiry ~= '' then redis.call('PEXPIREAT', c.key .. ':w', c.expiry) end
            crossed[#crossed + 1] = i; crossed[#crossed + 1] = warn[w]
          end
        end
      end
    end
  end
end
if ARGV[8] ~= '' then
  redis.call('HSET', RS, ARGV[8], cmsgpack.pack(held))
  redis.call('ZADD', RZ, ARGV[9], ARGV[8])
  -- Both live until a day after the last reservation would expire, so an abandoned shard cleans itself up.
  local last = redis.call('ZRANGE', RZ, -1, -1, 'WITHSCORES')
  local at = int(tonumber(last[2]) + 86400000)
  redis.call('PEXPIREAT', RS, at)
  redis.call('PEXPIREAT', RZ, at)
end
keep(usage_at)
remember('a')
return {'A', counters, crossed}
`;

/**
 * read: current counters and effective limits (releasing expired reservations first).
 *
 * KEYS[1] shard key stem <prefix>{<tag>}
 * ARGV[1] now (ms)  ARGV[2] seed: r(equired) | a(uto)  then the candidates (see read_candidates, no amounts)
 *
 * Returns {'S'} needs seed | {'O', counters} with counters = {candidate, limit, used, ...}.
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const READ_LUA = `${COMMON}
local cands
local invalid = checked('read', function()
  keys(1)
  integer(1, 'now'); one_of(2, 'r', 'a', 'seed')
  local p
  cands, p = read_candidates(3, false)
  if p ~= NARGV + 1 then bad((NARGV + 1 - p) .. ' unexpected trailing arguments') end
end)
if invalid then return invalid end
if not seeded_or(ARGV[2]) then return {'S'} end
release_expired(ARGV[1])
local limits = resolve_limits(cands)
local counters = {}
for i = 1, #cands do
  if limits[i] then
    counters[#counters + 1] = i; counters[#counters + 1] = limits[i]; counters[#counters + 1] = current(cands[i].key)
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
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const SEED_LUA = `${CHECKS}
local n = 0
local invalid = checked('seed', function()
  keys(3)
  n = count(1, 4, 'counter count')
  for i = 1, n do
    local b = 2 + (i - 1) * 4
    present(b, 'counter field'); present(b + 1, 'period key')
    integer(b + 2, 'seeded counter'); integer_or_empty(b + 3, 'counter expiry')
  end
  local rest = NARGV - 1 - 4 * n
  if rest % 2 ~= 0 then bad('overrides come in field/limit pairs, got ' .. rest .. ' arguments') end
  for j = 2 + 4 * n, NARGV, 2 do integer(j + 1, 'override limit') end
end)
if invalid then return invalid end
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
for i = 1, n do
  local b = 2 + (i - 1) * 4
  local key = KEYS[1] .. ':c:' .. ARGV[b] .. ':' .. ARGV[b + 1]
  redis.call('SET', key, ARGV[b + 2])
  if ARGV[b + 3] ~= '' then redis.call('PEXPIREAT', key, ARGV[b + 3]) end
end
for j = 2 + 4 * n, NARGV, 2 do redis.call('HSETNX', KEYS[3], ARGV[j], ARGV[j + 1]) end
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
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const CLAIM_LUA = `${CHECKS}
local invalid = checked('claim', function()
  keys(5)
  if NARGV ~= 5 then bad('expects 5 arguments, got ' .. NARGV) end
  integer(1, 'now'); integer(2, 'stale after')
  for i = 3, 5 do if ARGV[i] == '' then bad('ARGV[' .. i .. '] is empty') end end
end)
if invalid then return invalid end
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
 * ARGV[1] batch member suffix  ARGV[2..] batch ids (at least one)
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const ACK_LUA = `${CHECKS}
local invalid = checked('ack', function()
  keys(3)
  if NARGV < 2 then bad('expects a member suffix and at least one batch id, got ' .. NARGV .. ' arguments') end
  for i = 1, NARGV do if ARGV[i] == '' then bad('ARGV[' .. i .. '] is empty') end end
end)
if invalid then return invalid end
for i = 2, NARGV do
  local id = ARGV[i]
  redis.call('DEL', KEYS[3] .. id .. ':u', KEYS[3] .. id .. ':e')
  redis.call('HDEL', KEYS[1], id)
  redis.call('ZREM', KEYS[2], 'b:' .. id .. ARGV[1])
end
return NARGV - 1
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
export const KEY_COUNTS = { apply: 2, read: 1, seed: 3, claim: 5, ack: 3 } as const;

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
