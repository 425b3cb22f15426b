-- ack: forgets acknowledged batches of one shard. Acknowledging twice is harmless. Runs after the prelude
-- lib/checks.lua.
--
-- Steps, in this one script call: 1. check every argument (an error reply otherwise, nothing written); 2. per
-- batch id: delete its usage and event keys, its claim, and its member of the flush queue.
--
-- KEYS[1] claims hash  KEYS[2] flush queue zset  KEYS[3] batch key stem
-- ARGV[1] batch member suffix  ARGV[2..] batch ids (at least one)
--
-- Returns the number of batch ids given.
--
-- Every position is bound to a name here (the same names as ACK in src/script-layout.ts).
local claims = KEYS[1]
local flushQueue = KEYS[2]
local batchStem = KEYS[3]
local batchMemberSuffix = ARGV[1]
local batchIdsAt = 2 -- ARGV position of the first batch id; the rest follow it

local invalid = checked('ack', function()
  keys(3)
  if NARGV < 2 then bad('expects a member suffix and at least one batch id, got ' .. NARGV .. ' arguments') end
  if batchMemberSuffix == '' then bad('ARGV[1] is empty') end
  for i = batchIdsAt, NARGV do if ARGV[i] == '' then bad('ARGV[' .. i .. '] is empty') end end
end)
if invalid then return invalid end
for i = batchIdsAt, NARGV do
  local id = ARGV[i]
  redis.call('DEL', batchStem .. id .. ':u', batchStem .. id .. ':e')
  redis.call('HDEL', claims, id)
  redis.call('ZREM', flushQueue, 'b:' .. id .. batchMemberSuffix)
end
return NARGV - (batchIdsAt - 1)
