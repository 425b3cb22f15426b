-- claim: re-issues this shard's stale batches (same id, fresh claim time) and moves its unflushed usage and
-- events, if any, into a new batch. Runs after the prelude lib/checks.lua.
--
-- Steps, in this one script call: 1. check every argument (an error reply otherwise, nothing written);
-- 2. re-claim every batch claimed at or before now - stale after; 3. rename the unflushed usage hash and event
-- list into a new batch; 4. take the shard's dirty member off the flush queue; 5. hand out every claimed batch.
--
-- KEYS[1] claims hash (batch id -> claimed at)  KEYS[2] unflushed usage hash  KEYS[3] unflushed events list
-- KEYS[4] flush queue zset  KEYS[5] batch key stem (batch keys are <stem><batchId>:u and :e)
-- ARGV[1] now (ms)  ARGV[2] stale after (ms)  ARGV[3] id for a new batch
-- ARGV[4] this shard's dirty member  ARGV[5] its batch member suffix (members are b:<batchId><suffix>)
--
-- Returns {{batchId, {usage field, value, ...}, {event, ...}}, ...}; every batch is claimed at ARGV[1].
--
-- Every position is bound to a name here (the same names as CLAIM in src/script-layout.ts).
local claims = KEYS[1]
local unflushed = KEYS[2]
local events = KEYS[3]
local flushQueue = KEYS[4]
local batchStem = KEYS[5]
local now = ARGV[1]
local staleAfter = ARGV[2]
local newBatchId = ARGV[3]
local dirtyMember = ARGV[4]
local batchMemberSuffix = ARGV[5]

local invalid = checked('claim', function()
  keys(5)
  if NARGV ~= 5 then bad('expects 5 arguments, got ' .. NARGV) end
  integer_value(now, 'now (ARGV[1])'); integer_value(staleAfter, 'stale after (ARGV[2])')
  if newBatchId == '' then bad('ARGV[3] is empty') end
  if dirtyMember == '' then bad('ARGV[4] is empty') end
  if batchMemberSuffix == '' then bad('ARGV[5] is empty') end
end)
if invalid then return invalid end
local now_ms, stale_ms = tonumber(now), tonumber(staleAfter)
local out = {}
local function hand_out(id)
  redis.call('HSET', claims, id, now)
  redis.call('ZADD', flushQueue, now, 'b:' .. id .. batchMemberSuffix)
  out[#out + 1] = {id, redis.call('HGETALL', batchStem .. id .. ':u'), redis.call('LRANGE', batchStem .. id .. ':e', 0, -1)}
end
local claimed = redis.call('HGETALL', claims)
for i = 1, #claimed, 2 do
  if tonumber(claimed[i + 1]) + stale_ms <= now_ms then hand_out(claimed[i]) end
end
local fresh = false
if redis.call('EXISTS', unflushed) == 1 then
  redis.call('RENAME', unflushed, batchStem .. newBatchId .. ':u'); fresh = true
end
if redis.call('EXISTS', events) == 1 then
  redis.call('RENAME', events, batchStem .. newBatchId .. ':e'); fresh = true
end
redis.call('ZREM', flushQueue, dirtyMember)
if fresh then hand_out(newBatchId) end
return out
