-- many: one script call for many ops of one script (apply, claim or ack), each run exactly as that script runs
-- alone (and so atomic on its own; the call as a whole is atomic too). Loaded after the op's whole script (its
-- preludes included) wrapped as `local function run_one(KEYS, ARGV)`, with `many_name` (for messages) and
-- `keys_per_op` (how many of each op's arguments are its KEYS) defined before it, so each op sees its own keys and
-- arguments. On a cluster, every op of a call is in one slot (the store groups them so); on a single node, any
-- shards.
--
-- KEYS[1] the first op's first key: declared so that ioredis and a cluster route the call to its slot (its keys,
--         like every op's, also travel in ARGV)
--
-- ARGV[1] number of ops n; ARGV[2] .. ARGV[n + 1] how many arguments each op has (its keys included); then each
-- op's keys followed by its script's ARGV, op after op.
--
-- Returns one reply per op, in order: its script's reply (an error reply in its place when the script would have
-- answered or raised one: the other ops still run).
local routingStem = KEYS[1] or ''
local opCount = ARGV[1]
local argCountsAt = 2

local function bad_call(message)
  return redis.error_reply('ERR tollgate ' .. many_name .. ': bad arguments: ' .. message)
end
local n = tonumber(opCount)
if n == nil or n < 1 or n % 1 ~= 0 then
  return bad_call('op count (ARGV[1]) must be a whole number >= 1')
end
local total = argCountsAt + n - 1
for i = 1, n do
  local c = tonumber(ARGV[argCountsAt + i - 1])
  if c == nil or c < keys_per_op or c % 1 ~= 0 then
    return bad_call('argument count of op ' .. i .. ' is not a count >= ' .. keys_per_op)
  end
  total = total + c
end
if total ~= #ARGV then
  return bad_call('the ops need ' .. total .. ' arguments, got ' .. #ARGV)
end
local from = argCountsAt + n
if ARGV[from] ~= routingStem then
  return bad_call('KEYS[1] is not the first op\'s first key')
end

local replies = {}
for i = 1, n do
  local count = tonumber(ARGV[argCountsAt + i - 1])
  local keys = {}
  for j = 1, keys_per_op do keys[j] = ARGV[from + j - 1] end
  local args = {}
  for j = keys_per_op + 1, count do args[j - keys_per_op] = ARGV[from + j - 1] end
  -- A Redis error raised inside one op (a key of the wrong type, an INCRBY overflow) would abort the whole call
  -- and answer every op with it, although the ops before it were applied: caught, it answers that op alone.
  local ok, reply = pcall(run_one, keys, args)
  if ok then
    replies[i] = reply
  else
    local message = type(reply) == 'table' and reply.err or tostring(reply)
    replies[i] = redis.error_reply(message)
  end
  from = from + count
end
return replies
