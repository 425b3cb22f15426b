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
 * The same checks, lean, for the two scripts on the request path (apply, read): few helper functions (a script's
 * body, helpers included, runs afresh on every call, and each helper is a closure created then), no pcall, and
 * full integer checks only for values that reach INCRBY / HINCRBY / PEXPIREAT / ZADD, where a bad one would fail
 * after earlier writes; limits and thresholds are only compared, so a number is enough there. Each checking
 * function answers nil and a message instead of raising, and the script returns the error reply.
 */
const LEAN_CHECKS = `
local NARGV = #ARGV
local find = string.find
-- A decimal integer, as INCRBY, HINCRBY, PEXPIREAT and ZADD read it; matched inline (a call per check costs).
local INT = '^%-?%d+$'
-- A count at ARGV[p] of items \`width\` arguments wide: nil unless it is a whole number whose items are all given.
local function fits(p, width)
  local n = tonumber(ARGV[p])
  if n == nil or n < 0 or n % 1 ~= 0 or p + n * width > NARGV then return nil end
  return n
end
local function misfit(what, p)
  return what .. ' (ARGV[' .. p .. ']) = ' .. tostring(ARGV[p]) .. ' does not fit the ' .. NARGV .. ' arguments given'
end
local function bad(script, msg) return redis.error_reply('ERR tollgate ' .. script .. ': bad arguments: ' .. msg) end
`;

/**
 * Helpers shared by apply and read. Both receive the candidate counters compactly: every period window once,
 * then one group per scope x meter with its plan limit for each window. Candidate i = (group - 1) * windows + w.
 *
 * Shard keys are derived from the declared stem KEYS[1] (`<prefix>{<tag>}`): they share its hash tag, so its slot
 * and any ioredis keyPrefix. <stem>:scopes seeded-scopes hash, :ov overrides hash, :rs reservations hash, :rz reservation
 * expiry zset, :o:<bucket> op-id hash, :u unflushed usage hash, :e unflushed events list,
 * :c:<scope>:<id>:<meter>:<period>:<period key> counter, <counter>:w threshold marks, <counter>:h the part of the counter
 * that reservations hold.
 */
const COMMON = `${LEAN_CHECKS}
-- '' until the key count is checked, so a call without keys gets the checks' error, not a Lua one.
local stem = KEYS[1] or ''
local SCOPES, OV, RS, RZ = stem .. ':scopes', stem .. ':ov', stem .. ':rs', stem .. ':rz'

local function int(x) return string.format('%.0f', x) end

-- Gives back what a reservation holds on each counter that still exists (an expired window is gone), and on the
-- counter's held total (<counter>:h: the part of the counter that reservations hold, not yet used).
local function undo_reservation(id)
  local packed = redis.call('HGET', RS, id)
  if packed then
    local items = cmsgpack.unpack(packed)
    for i = 1, #items, 2 do
      if redis.call('EXISTS', items[i]) == 1 then redis.call('DECRBY', items[i], items[i + 1]) end
      local h = items[i] .. ':h'
      if redis.call('EXISTS', h) == 1 and redis.call('DECRBY', h, items[i + 1]) <= 0 then redis.call('DEL', h) end
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
-- window). Returns the candidates {field, key, expiry, plan, amount, amount_arg, reserved} and the next position,
-- or nil, the position and what is wrong.
local function read_candidates(p, with_amounts)
  local nwin = fits(p, 3)
  if not nwin then return nil, p, misfit('window count', p) end
  p = p + 1
  local win = {}
  for w = 1, nwin do
    local expiry = ARGV[p + 2]
    if expiry ~= '' and not find(expiry, INT) then
      return nil, p, 'window expiry (ARGV[' .. (p + 2) .. ']) must be an integer or empty'
    end
    win[w] = {ARGV[p], ARGV[p + 1], expiry}
    p = p + 3
  end
  local ngroup = fits(p, 1 + nwin + (with_amounts and 2 or 0))
  if not ngroup then return nil, p, misfit('counter group count', p) end
  p = p + 1
  local cands = {}
  for g = 1, ngroup do
    local prefix = ARGV[p]; p = p + 1
    local amount, reserved = '0', '0'
    if with_amounts then
      amount, reserved = ARGV[p], ARGV[p + 1]
      if not (find(amount, INT) and find(reserved, INT)) then
        return nil, p, 'amount and reserved amount (ARGV[' .. p .. '], ARGV[' .. (p + 1) .. ']) must be integers'
      end
      p = p + 2
    end
    for w = 1, nwin do
      local field = prefix .. ':' .. win[w][1]
      local plan = ARGV[p]
      if plan ~= '' and not tonumber(plan) then
        return nil, p, 'plan limit (ARGV[' .. p .. ']) must be a number or empty'
      end
      p = p + 1
      cands[#cands + 1] = {
        field = field, key = stem .. ':c:' .. field .. ':' .. win[w][2], expiry = win[w][3],
        plan = plan, amount = tonumber(amount), amount_arg = amount, reserved = reserved, group = g,
      }
    end
  end
  return cands, p
end

-- Checks usage deltas (count, then field, amount, cost each) and events (count, then one JSON string each) at
-- ARGV[p]. Returns the next position, or nil and what is wrong.
local function check_lists(p)
  local n = fits(p, 3)
  if not n then return nil, misfit('usage count', p) end
  p = p + 1
  for j = 1, n do
    if not find(ARGV[p + 1], INT) then
      return nil, 'usage amount (ARGV[' .. (p + 1) .. ']) must be an integer, got "' .. ARGV[p + 1] .. '"'
    end
    if not find(ARGV[p + 2], INT) then
      return nil, 'usage cost (ARGV[' .. (p + 2) .. ']) must be an integer, got "' .. ARGV[p + 2] .. '"'
    end
    p = p + 3
  end
  local ne = fits(p, 1)
  if not ne then return nil, misfit('event count', p) end
  return p + 1 + ne
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

-- Reads the scopes at ARGV[p] (count, then <scope>:<id> each). Returns them and the next position, or nil, the
-- position and what is wrong.
local function read_scopes(p)
  local n = fits(p, 1)
  if not n then return nil, p, misfit('scope count', p) end
  local out = {}
  for i = 1, n do out[i] = ARGV[p + i] end
  return out, p + 1 + n
end

-- True when every scope's counters exist (seeded from the ledger, or started fresh). With seed 'a'(uto), missing
-- scopes start fresh now; with 'r'(equired), they must be seeded first.
local function seeded_or(seed, scopes)
  if #scopes == 0 then return true end
  local flags = redis.call('HMGET', SCOPES, unpack(scopes))
  local missing = {}
  for i = 1, #scopes do
    if not flags[i] then missing[#missing + 1] = scopes[i]; missing[#missing + 1] = '1' end
  end
  if #missing == 0 then return true end
  if seed == 'r' then return false end
  redis.call('HSET', SCOPES, unpack(missing))
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
 * then the op's scopes (count, then <scope>:<id> each), each marked in <stem>:scopes once seeded
 * then the candidates (see read_candidates, with amount incl. reserved and reserved per group)
 * then usage deltas (count), 3 each: field, amount, cost (pico-dollars); events (count), then each as JSON
 * then the same two lists kept only on rejection;
 * then more reservation ids to settle (count), then each (non-empty);
 * then more reservations to hold (count), then each: id (non-empty), expiry (ms), and the amount it holds per
 * counter group (in candidate group order); nothing after them.
 *
 * Returns {'S'} needs seed | {'D', 'a'|'r'} duplicate | {'R', counters, violated, first, held} | {'A', counters, crossed}
 * where counters = {candidate, limit, used, ...}, violated = {candidate, ...}, first = the violated candidates
 * rejecting for the first time in their window, held = what reservations hold on each violated one, crossed = {candidate, threshold, used amount (the counter less what
 * reservations hold), ...}.
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const APPLY_LUA = `${COMMON}
if #KEYS ~= 2 then return bad('apply', 'expects 2 keys, got ' .. #KEYS) end
if KEYS[1] == '' or KEYS[2] == '' then return bad('apply', 'a key is empty') end
if NARGV < 12 then return bad('apply', 'expects at least 12 arguments, got ' .. NARGV) end
if ARGV[1] == '' then return bad('apply', 'op id (ARGV[1]) is empty') end
if not find(ARGV[2], INT) then return bad('apply', 'now (ARGV[2]) must be an integer') end
if ARGV[3] ~= 'e' and ARGV[3] ~= 'r' then return bad('apply', 'mode (ARGV[3]) must be e or r') end
if ARGV[4] ~= 'r' and ARGV[4] ~= 'a' then return bad('apply', 'seed (ARGV[4]) must be r or a') end
if not (find(ARGV[5], INT) and find(ARGV[6], INT)) then
  return bad('apply', 'op-id bucket and expiry (ARGV[5], ARGV[6]) must be integers')
end
if ARGV[8] ~= '' then
  if not find(ARGV[9], INT) then return bad('apply', 'reservation expiry (ARGV[9]) must be an integer') end
elseif ARGV[9] ~= '' then
  return bad('apply', 'reservation expiry (ARGV[9]) given without a reservation id')
end
if ARGV[10] == '' then return bad('apply', 'dirty member (ARGV[10]) is empty') end
if not find(ARGV[11], INT) then return bad('apply', 'dirty score (ARGV[11]) must be an integer') end
local nwarn = fits(12, 1)
if not nwarn then return bad('apply', misfit('threshold count', 12)) end
local warn, lowest = {}, nil
for w = 1, nwarn do
  warn[w] = ARGV[12 + w]
  local t = tonumber(warn[w])
  if not t then return bad('apply', 'threshold (ARGV[' .. (12 + w) .. ']) must be a number') end
  if lowest == nil or t < lowest then lowest = t end
end
local scopes, cands, usage_at, reject_at, p, err
scopes, p, err = read_scopes(13 + nwarn)
if not scopes then return bad('apply', err) end
cands, usage_at, err = read_candidates(p, true)
if not cands then return bad('apply', err) end
reject_at, err = check_lists(usage_at)
if not reject_at then return bad('apply', err) end
p, err = check_lists(reject_at)
if not p then return bad('apply', err) end
local nsettle = fits(p, 1)
if not nsettle then return bad('apply', misfit('settle id count', p)) end
local settle_at = p + 1
p = settle_at + nsettle
for i = settle_at, p - 1 do
  if ARGV[i] == '' then return bad('apply', 'settle id (ARGV[' .. i .. ']) is empty') end
end
local ngroups = #cands > 0 and cands[#cands].group or 0
local nhold = fits(p, 2 + ngroups)
if not nhold then return bad('apply', misfit('reservation count', p)) end
local hold_at = p + 1
p = hold_at
for r = 1, nhold do
  if ARGV[p] == '' then return bad('apply', 'reservation id (ARGV[' .. p .. ']) is empty') end
  if not find(ARGV[p + 1], INT) then
    return bad('apply', 'reservation expiry (ARGV[' .. (p + 1) .. ']) must be an integer')
  end
  for i = p + 2, p + 1 + ngroups do
    if not find(ARGV[i], INT) then return bad('apply', 'reserved amount (ARGV[' .. i .. ']) must be an integer') end
  end
  p = p + 2 + ngroups
end
if p ~= NARGV + 1 then return bad('apply', (NARGV + 1 - p) .. ' unexpected trailing arguments') end

local UNFLUSHED, EVENTS, QUEUE = stem .. ':u', stem .. ':e', KEYS[2]
if not seeded_or(ARGV[4], scopes) then return {'S'} end
release_expired(ARGV[2])
local op = ARGV[1]
local bucket = tonumber(ARGV[5])
local OPS = stem .. ':o:' .. ARGV[5]
local seen = redis.call('HGET', OPS, op) or redis.call('HGET', stem .. ':o:' .. int(bucket - 1), op)
  or redis.call('HGET', stem .. ':o:' .. int(bucket + 1), op)
if seen then return {'D', seen} end
if ARGV[7] ~= '' then undo_reservation(ARGV[7]) end
for i = settle_at, settle_at + nsettle - 1 do undo_reservation(ARGV[i]) end

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
      -- amount 0: a gate, refused once a budget (limit > 0; 0 forbids the meter, not the request) is used up
      if (amount > 0 and l >= 0 and used[i] + amount > l) or (amount == 0 and l > 0 and used[i] >= l) then
        violated[#violated + 1] = i
      end
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
    -- What reservations hold on each violated counter (its held total), so the refusal can say so.
    local held = {}
    for j, i in ipairs(violated) do held[j] = tonumber(redis.call('GET', cands[i].key .. ':h') or '0') end
    remember('r')
    keep(reject_at)
    return {'R', counters, violated, first, held}
  end
end

-- What this op holds per counter group (its own reservation plus each of the further ones), and until when.
local holding, hold_until = {}, 0
for g = 1, ngroups do holding[g] = 0 end
for i = 1, #cands do holding[cands[i].group] = tonumber(cands[i].reserved) end
if ARGV[8] ~= '' then hold_until = tonumber(ARGV[9]) end
local at_r = hold_at
for r = 1, nhold do
  for g = 1, ngroups do holding[g] = holding[g] + tonumber(ARGV[at_r + 1 + g]) end
  if tonumber(ARGV[at_r + 1]) > hold_until then hold_until = tonumber(ARGV[at_r + 1]) end
  at_r = at_r + 2 + ngroups
end

-- Adds to a counter's held total. The total lives until the last reservation on it expires (plus 5 s for
-- clocks that disagree), at most as long as the counter: one left wrong (an older version of this script, which
-- does not keep it, settling a reservation during a rolling upgrade) heals then, not at the window's end.
local function hold_on(c, amount)
  local h = c.key .. ':h'
  redis.call('INCRBY', h, amount)
  local at = hold_until + 5000
  if c.expiry ~= '' and tonumber(c.expiry) < at then at = tonumber(c.expiry) end
  if redis.call('PTTL', h) < 0 then
    redis.call('PEXPIREAT', h, int(at))
  else
    redis.call('PEXPIREAT', h, int(at), 'GT')
  end
end

-- Thresholds are crossed by used amounts only: the counter less what reservations hold (a large estimate such as
-- max_tokens fires nothing; its settlement fires what the actual usage reaches).
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
    local used_now = amount - holding[c.group]
    -- The used amount never exceeds the counter: below the lowest mark, nothing can cross (and no read is needed).
    if l > 0 and used_now > 0 and nwarn > 0 and after * 100 >= lowest * l then
      local others = tonumber(redis.call('GET', c.key .. ':h') or '0')
      if others < 0 then others = 0 end
      local settled = after - holding[c.group] - others
      local before = settled - used_now
      for w = 1, nwarn do
        local mark = tonumber(warn[w]) * l
        if before * 100 < mark and settled * 100 >= mark then
          if redis.call('SADD', c.key .. ':w', warn[w]) == 1 then
            if c.expiry ~= '' then redis.call('PEXPIREAT', c.key .. ':w', c.expiry) end
            crossed[#crossed + 1] = i; crossed[#crossed + 1] = warn[w]; crossed[#crossed + 1] = settled
          end
        end
      end
    end
    if holding[c.group] ~= 0 then hold_on(c, holding[c.group]) end
  end
end
if ARGV[8] ~= '' then
  redis.call('HSET', RS, ARGV[8], cmsgpack.pack(held))
  redis.call('ZADD', RZ, ARGV[9], ARGV[8])
end
at_r = hold_at
for r = 1, nhold do
  local items = {}
  for i = 1, #cands do
    local a = ARGV[at_r + 1 + cands[i].group]
    if limits[i] and a ~= '0' then items[#items + 1] = cands[i].key; items[#items + 1] = a end
  end
  redis.call('HSET', RS, ARGV[at_r], cmsgpack.pack(items))
  redis.call('ZADD', RZ, ARGV[at_r + 1], ARGV[at_r])
  at_r = at_r + 2 + ngroups
end
if ARGV[8] ~= '' or nhold > 0 then
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
 * ARGV[1] now (ms)  ARGV[2] seed: r(equired) | a(uto)  then the scopes (count, then <scope>:<id> each)
 * then the candidates (see read_candidates, no amounts)
 *
 * Returns {'S'} needs seed | {'O', counters} with counters = {candidate, limit, used, ...}.
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const READ_LUA = `${COMMON}
if #KEYS ~= 1 then return bad('read', 'expects 1 keys, got ' .. #KEYS) end
if KEYS[1] == '' then return bad('read', 'a key is empty') end
if NARGV < 5 then return bad('read', 'expects at least 5 arguments, got ' .. NARGV) end
if not find(ARGV[1], INT) then return bad('read', 'now (ARGV[1]) must be an integer') end
if ARGV[2] ~= 'r' and ARGV[2] ~= 'a' then return bad('read', 'seed (ARGV[2]) must be r or a') end
local scopes, p, err = read_scopes(3)
if not scopes then return bad('read', err) end
local cands
cands, p, err = read_candidates(p, false)
if not cands then return bad('read', err) end
if p ~= NARGV + 1 then return bad('read', (NARGV + 1 - p) .. ' unexpected trailing arguments') end
if not seeded_or(ARGV[2], scopes) then return {'S'} end
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
 * seed: for the scopes not seeded yet, sets their counters, restores missing overrides (keeping any set since),
 * and marks them seeded; scopes already seeded keep their counters.
 *
 * KEYS[1] shard key stem  KEYS[2] seeded-scopes hash  KEYS[3] overrides hash
 * ARGV[1] scopes (count), then <scope>:<id> each
 * then counters (count), 5 each: scope (its position in the scope list), override field, period key, used,
 * expiry (ms) or ''; then overrides, 2 each: field, limit
 *
 * Returns 1 when some scope was seeded now, 0 when every scope was seeded already (nothing changed).
 * Arguments of any other shape: an error reply, and nothing written.
 */
export const SEED_LUA = `${CHECKS}
local nscope, ncounter, first = 0, 0, 0
local invalid = checked('seed', function()
  keys(3)
  nscope = count(1, 1, 'scope count')
  for i = 1, nscope do present(1 + i, 'scope') end
  local c = 2 + nscope
  ncounter = count(c, 5, 'counter count')
  first = c + 1
  for i = 1, ncounter do
    local b = first + (i - 1) * 5
    local at = tonumber(integer(b, 'counter scope'))
    if at < 1 or at > nscope then bad('counter scope (ARGV[' .. b .. ']) must be 1..' .. nscope) end
    present(b + 1, 'counter field'); present(b + 2, 'period key')
    integer(b + 3, 'seeded counter'); integer_or_empty(b + 4, 'counter expiry')
  end
  local rest = NARGV - (first - 1) - 5 * ncounter
  if rest % 2 ~= 0 then bad('overrides come in field/limit pairs, got ' .. rest .. ' arguments') end
  for j = first + 5 * ncounter, NARGV, 2 do integer(j + 1, 'override limit') end
end)
if invalid then return invalid end
if nscope == 0 then return 0 end
local scopes = {}
for i = 1, nscope do scopes[i] = ARGV[1 + i] end
local flags = redis.call('HMGET', KEYS[2], unpack(scopes))
local fresh, marks = {}, {}
for i = 1, nscope do
  if not flags[i] then fresh[i] = true; marks[#marks + 1] = scopes[i]; marks[#marks + 1] = '1' end
end
if #marks == 0 then return 0 end
for i = 1, ncounter do
  local b = first + (i - 1) * 5
  if fresh[tonumber(ARGV[b])] then
    local key = KEYS[1] .. ':c:' .. ARGV[b + 1] .. ':' .. ARGV[b + 2]
    redis.call('SET', key, ARGV[b + 3])
    if ARGV[b + 4] ~= '' then redis.call('PEXPIREAT', key, ARGV[b + 4]) end
  end
end
for j = first + 5 * ncounter, NARGV, 2 do redis.call('HSETNX', KEYS[3], ARGV[j], ARGV[j + 1]) end
redis.call('HSET', KEYS[2], unpack(marks))
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
