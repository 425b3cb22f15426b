-- apply: CounterStore.apply in one atomic step. Runs after the preludes lib/lean-checks.lua and lib/shard.lua.
--
-- Steps, all in this one script call:
--   1. check every argument; a call of any other shape gets an error reply and nothing is written; an op sent
--      without its unlimited counter groups, to a shard with overrides (which may limit them): {'F'}, nothing written
--   2. scopes not seeded: {'S'} (seed 'r'), or mark them seeded now (seed 'a')
--   3. release expired reservations (unless the op touches no counter and no reservation); an op id seen in this
--      or a neighbouring bucket: {'D', outcome}
--   4. undo the reservations this op settles
--   5. enforce mode: any counter over its effective limit rejects the op ({'R', ...}; the rejection lists kept)
--   6. otherwise add the amounts, report thresholds crossed, hold the reservations, keep usage and events ({'A', ...})
--
-- KEYS[1] shard key stem <prefix>{<tag>} (the shard's other keys derive from it, see lib/shard.lua)
-- KEYS[2] flush queue zset (one per node, or the one in this shard's slot on a cluster)
--
-- ARGV[1] op id   ARGV[2] now (ms)   ARGV[3] mode: e(nforce) | r(ecord)   ARGV[4] seed: r(equired) | a(uto)
-- ARGV[5] op-id time bucket b (ids are looked up in <stem>:o:<b-1>, <b>, <b+1> and written to <b>)
-- ARGV[6] expiry of <stem>:o:<b> (ms)   ARGV[7] reservation id to settle, or ''
-- ARGV[8] reservation id to hold, or ''   ARGV[9] its expiry (ms), or ''
-- ARGV[10] this shard's dirty member in the flush queue   ARGV[11] its score
-- ARGV[12] 'p' when the candidates list only the counter groups and windows with a plan limit (the store's lean
--          form, for a shard it knows no overrides of), '' when they list every scope x meter in every window
-- ARGV[13] thresholds (count), then each (percent)
-- then the op's scopes (count, then <scope>:<id> each), each marked in <stem>:scopes once seeded
-- then the candidates (see read_candidates, with amount incl. reserved and reserved per group)
-- then usage deltas (count), 3 each: field, amount, cost (pico-dollars); events (count), then each as JSON
-- then the same two lists kept only on rejection;
-- then more reservation ids to settle (count), then each (non-empty);
-- then more reservations to hold (count), then each: id (non-empty), expiry (ms), and the amount it holds per
-- counter group (in candidate group order); nothing after them.
--
-- Returns {'F'} send every group (lean form, shard has overrides) | {'S'} needs seed | {'D', seen} duplicate (seen: 'a' | 'r') | {'R', counters, violated, first, held}
-- | {'A', counters, crossed} where counters = {candidate, limit, used, ...}, violated = {candidate, ...},
-- first = the violated candidates rejecting for the first time in their window, held = what reservations hold on
-- each violated one, crossed = {candidate, threshold, used amount (the counter less what reservations hold), ...}.
--
-- Every position is bound to a name here (the same names as APPLY in src/script-layout.ts); nothing below reads
-- KEYS or ARGV at a fixed position.
local shardStem = KEYS[1] or '' -- '' until the key count is checked, so a call without keys gets its error
local flushQueue = KEYS[2]
local opId = ARGV[1]
local now = ARGV[2]
local mode = ARGV[3]
local seed = ARGV[4]
local opIdBucket = ARGV[5]
local opIdExpiry = ARGV[6]
local settleId = ARGV[7]
local reserveId = ARGV[8]
local reserveExpiry = ARGV[9]
local dirtyMember = ARGV[10]
local dirtyScore = ARGV[11]
local groupsSent = ARGV[12]
local thresholdsAt = 13 -- ARGV position of the threshold count; the variable-length rest follows it
use_shard(shardStem)

if #KEYS ~= 2 then return bad('apply', 'expects 2 keys, got ' .. #KEYS) end
if shardStem == '' or flushQueue == '' then return bad('apply', 'a key is empty') end
if NARGV < 13 then return bad('apply', 'expects at least 13 arguments, got ' .. NARGV) end
if opId == '' then return bad('apply', 'op id (ARGV[1]) is empty') end
if not find(now, INT) then return bad('apply', 'now (ARGV[2]) must be an integer') end
if mode ~= 'e' and mode ~= 'r' then return bad('apply', 'mode (ARGV[3]) must be e or r') end
if seed ~= 'r' and seed ~= 'a' then return bad('apply', 'seed (ARGV[4]) must be r or a') end
if not (find(opIdBucket, INT) and find(opIdExpiry, INT)) then
  return bad('apply', 'op-id bucket and expiry (ARGV[5], ARGV[6]) must be integers')
end
if reserveId ~= '' then
  if not find(reserveExpiry, INT) then return bad('apply', 'reservation expiry (ARGV[9]) must be an integer') end
elseif reserveExpiry ~= '' then
  return bad('apply', 'reservation expiry (ARGV[9]) given without a reservation id')
end
if dirtyMember == '' then return bad('apply', 'dirty member (ARGV[10]) is empty') end
if not find(dirtyScore, INT) then return bad('apply', 'dirty score (ARGV[11]) must be an integer') end
if groupsSent ~= 'p' and groupsSent ~= '' then return bad('apply', "groups sent (ARGV[12]) must be 'p' or empty") end
local nwarn = fits(thresholdsAt, 1)
if not nwarn then return bad('apply', misfit('threshold count', thresholdsAt)) end
local warn, lowest = {}, nil
for w = 1, nwarn do
  warn[w] = ARGV[thresholdsAt + w]
  local t = tonumber(warn[w])
  if not t then return bad('apply', 'threshold (ARGV[' .. (thresholdsAt + w) .. ']) must be a number') end
  if lowest == nil or t < lowest then lowest = t end
end
local scopes, cands, usage_at, reject_at, p, err
scopes, p, err = read_scopes(thresholdsAt + 1 + nwarn)
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

local UNFLUSHED, EVENTS, QUEUE = shardStem .. ':u', shardStem .. ':e', flushQueue
-- An override can limit a counter of a group left out: then the op must come with every group.
local overridden = (groupsSent == 'p' or #cands > 0) and redis.call('EXISTS', OV) == 1
if overridden and groupsSent == 'p' then return {'F'} end
-- Seeded first even for an op that touches no counter: seeding restores the shard's overrides from the ledger, and
-- an override can limit what this op records (the lean form then finds them and is sent again whole).
if not seeded_or(seed, scopes) then return {'S'} end
-- An op that touches no counter and no reservation (a response's usage of unlimited meters, sent lean) need not
-- release expired reservations first: every op and read that reads counters releases them before it does.
if #cands > 0 or settleId ~= '' or reserveId ~= '' or nsettle > 0 or nhold > 0 then release_expired(now) end
local bucket = tonumber(opIdBucket)
local OPS = shardStem .. ':o:' .. opIdBucket
local seen = redis.call('HGET', OPS, opId) or redis.call('HGET', shardStem .. ':o:' .. int(bucket - 1), opId)
  or redis.call('HGET', shardStem .. ':o:' .. int(bucket + 1), opId)
if seen then return {'D', seen} end
if settleId ~= '' then undo_reservation(settleId) end
for i = settle_at, settle_at + nsettle - 1 do undo_reservation(ARGV[i]) end

local limits = resolve_limits(cands, overridden)

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
  if n + ne > 0 then redis.call('ZADD', QUEUE, 'NX', dirtyScore, dirtyMember) end
end

local function remember(outcome)
  redis.call('HSET', OPS, opId, outcome)
  redis.call('PEXPIREAT', OPS, opIdExpiry)
end

local used = {}
if mode == 'e' then
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
if reserveId ~= '' then hold_until = tonumber(reserveExpiry) end
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
      -- Every writer of a counter sets its window's expiry when it creates it: once is enough.
      if c.expiry ~= '' and after == amount then redis.call('PEXPIREAT', c.key, c.expiry) end
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
if reserveId ~= '' then
  redis.call('HSET', RS, reserveId, cmsgpack.pack(held))
  redis.call('ZADD', RZ, reserveExpiry, reserveId)
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
if reserveId ~= '' or nhold > 0 then
  -- Both live until a day after the last reservation would expire, so an abandoned shard cleans itself up.
  local last = redis.call('ZRANGE', RZ, -1, -1, 'WITHSCORES')
  local at = int(tonumber(last[2]) + 86400000)
  redis.call('PEXPIREAT', RS, at)
  redis.call('PEXPIREAT', RZ, at)
end
keep(usage_at)
remember('a')
return {'A', counters, crossed}
