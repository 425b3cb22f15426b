-- many: one script call for many ops of one script (apply, claim or ack), each run exactly as that script runs
-- alone (and so atomic on its own; the call as a whole is atomic too). Loaded after the op's whole script (its
-- preludes included) wrapped as `local function run_one(KEYS, ARGV)`, with `many_name` (for messages) and
-- `keys_per_op` (how many of each op's values are its KEYS) defined before it, so each op sees its own keys and
-- arguments. On a cluster, every op of a call is in one slot (the store groups them so); on a single node, any
-- shards.
--
-- KEYS[1] the first op's first key: declared so that ioredis and a cluster route the call to its slot (its keys,
--         like every op's, also travel in ARGV[1])
--
-- ARGV[1] the ops, packed as one msgpack array (src/packed-calls.ts): per op, an array of its keys and an array of
--         its script's ARGV, every value a string. One value, not one argument per value: Redis then makes no Lua
--         string per value in ARGV for this script to copy into each op's tables; cmsgpack.unpack builds them.
--
-- Returns one reply per op, in order: its script's reply (an error reply in its place when the script would have
-- answered or raised one: the other ops still run).
local routingStem = KEYS[1] or ''
local packedOps = ARGV[1]

local function bad_call(message)
  return redis.error_reply('ERR tollgate ' .. many_name .. ': bad arguments: ' .. message)
end
if #KEYS ~= 1 or #ARGV ~= 1 then
  return bad_call('expects 1 key and 1 argument (the packed ops), got ' .. #KEYS .. ' and ' .. #ARGV)
end
-- Anything but one msgpack value raises in cmsgpack (truncated, unknown type) or unpacks to more than one value.
local unpacked = {pcall(cmsgpack.unpack, packedOps)}
local ops = unpacked[2]
if not unpacked[1] or #unpacked ~= 2 or type(ops) ~= 'table' or #ops < 1 then
  return bad_call('ARGV[1] is not one msgpack array of ops')
end
for i = 1, #ops do
  local op = ops[i]
  if type(op) ~= 'table' or #op ~= 2 or type(op[1]) ~= 'table' or type(op[2]) ~= 'table'
    or #op[1] ~= keys_per_op then
    return bad_call('op ' .. i .. ' is not {keys, arguments} with ' .. keys_per_op .. ' keys')
  end
  for _, values in ipairs(op) do
    for j = 1, #values do
      if type(values[j]) ~= 'string' then return bad_call('op ' .. i .. ' has a value that is not a string') end
    end
  end
end
if ops[1][1][1] ~= routingStem then
  return bad_call('KEYS[1] is not the first op\'s first key')
end

local replies = {}
for i = 1, #ops do
  -- A Redis error raised inside one op (a key of the wrong type, an INCRBY overflow) would abort the whole call
  -- and answer every op with it, although the ops before it were applied: caught, it answers that op alone.
  local ok, reply = pcall(run_one, ops[i][1], ops[i][2])
  if ok then
    replies[i] = reply
  else
    local message = type(reply) == 'table' and reply.err or tostring(reply)
    replies[i] = redis.error_reply(message)
  end
end
return replies
