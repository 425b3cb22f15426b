-- Prelude: helpers shared by apply and read (prepended, after lean-checks.lua, when they are loaded).
--
-- Both receive the candidate counters compactly: every period window once, then one group per scope x meter
-- with its plan limit for each window. Candidate i = (group - 1) * windows + w.
--
-- Shard keys are derived from the declared stem (`<prefix>{<tag>}`, the script's KEYS[1], given to use_shard):
-- they share its hash tag, so its slot and any ioredis keyPrefix. <stem>:scopes seeded-scopes hash, :ov
-- overrides hash, :rs reservations hash, :rz reservation expiry zset, :o:<bucket> op-id hash, :u unflushed usage
-- hash, :e unflushed events list, :c:<scope>:<id>:<meter>:<period>:<period key> counter, <counter>:w threshold
-- marks, <counter>:h the part of the counter that reservations hold.

-- The shard's keys, set by use_shard before any helper below runs.
local stem, SCOPES, OV, RS, RZ
local function use_shard(shard_stem)
  stem = shard_stem
  SCOPES, OV, RS, RZ = stem .. ':scopes', stem .. ':ov', stem .. ':rs', stem .. ':rz'
end

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
-- `overridden`: whether the shard has an overrides hash (nil: not known yet, asked here).
local function resolve_limits(cands, overridden)
  local limits = {}
  local set = {}
  if overridden == nil and #cands > 0 then overridden = redis.call('EXISTS', OV) == 1 end
  if #cands > 0 and overridden then
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
