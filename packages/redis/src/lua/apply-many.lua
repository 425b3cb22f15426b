-- apply-many: CounterStore.applyMany, many ops in one script call, each run exactly as apply.lua runs one (and so
-- atomic on its own; the call as a whole is atomic too). Loaded after apply.lua's whole script (its preludes
-- included) wrapped as `local function apply_one(KEYS, ARGV)`, so each op sees its own keys and arguments.
-- On a cluster, every op of a call is in one slot (the store groups them so); on a single node, any shards.
--
-- KEYS[1] the first op's shard key stem: declared so that ioredis and a cluster route the call to its slot (its
--         keys, like every op's, also travel in ARGV)
--
-- ARGV[1] number of ops n; ARGV[2] .. ARGV[n + 1] how many arguments each op has (its two keys, shard key stem
-- and flush queue, included); then each op's two keys followed by apply.lua's ARGV for it, op after op.
--
-- Returns one reply per op, in order: apply.lua's reply for it (an error reply in its place when apply would have
-- answered or raised one: the other ops still run).
local routingStem = KEYS[1] or ''
local opCount = ARGV[1]
local argCountsAt = 2

local n = tonumber(opCount)
if n == nil or n < 1 or n % 1 ~= 0 then
  return redis.error_reply('ERR tollgate apply-many: bad arguments: op count (ARGV[1]) must be a whole number >= 1')
end
local total = argCountsAt + n - 1
for i = 1, n do
  local c = tonumber(ARGV[argCountsAt + i - 1])
  if c == nil or c < 2 or c % 1 ~= 0 then
    return redis.error_reply('ERR tollgate apply-many: bad arguments: argument count of op ' .. i .. ' is not a count >= 2')
  end
  total = total + c
end
if total ~= #ARGV then
  return redis.error_reply('ERR tollgate apply-many: bad arguments: the ops need ' .. total .. ' arguments, got ' .. #ARGV)
end
local from = argCountsAt + n
if ARGV[from] ~= routingStem then
  return redis.error_reply('ERR tollgate apply-many: bad arguments: KEYS[1] is not the first op\'s shard key stem')
end

local replies = {}
for i = 1, n do
  local count = tonumber(ARGV[argCountsAt + i - 1])
  local args = {}
  for j = 3, count do args[j - 2] = ARGV[from + j - 1] end
  -- A Redis error raised inside one op (a key of the wrong type, an INCRBY overflow) would abort the whole call
  -- and answer every op with it, although the ops before it were applied: caught, it answers that op alone.
  local ok, reply = pcall(apply_one, { ARGV[from], ARGV[from + 1] }, args)
  if ok then
    replies[i] = reply
  else
    local message = type(reply) == 'table' and reply.err or tostring(reply)
    replies[i] = redis.error_reply(message)
  end
  from = from + count
end
return replies
