#!lua flags=no-writes,allow-cross-slot-keys
-- probe: reads every flush queue local to the cluster node it runs on, in one call per node. Runs after the
-- prelude lib/checks.lua (the flags line above stays first).
--
-- Read-only and declares no keys: it reads per-slot queues by name, which Redis 7 allows for local keys with
-- `allow-cross-slot-keys`. A queue whose slot is not (or no longer) local is skipped; the next claim sees it.
-- Steps: 1. check the arguments (an error reply otherwise); 2. read each queue's due members, oldest first,
-- until max members are found.
--
-- ARGV[1] cutoff (ms): members scored at or below it are due   ARGV[2] max members wanted (>= 1)
-- ARGV[3..] flush queue keys (with the client's keyPrefix)
-- Returns {member, score, member, score, ...}.
--
-- Every position is bound to a name here (the same names as PROBE in src/script-layout.ts).
local cutoff = ARGV[1]
local maxMembers = ARGV[2]
local queuesAt = 3 -- ARGV position of the first queue key; the rest follow it

local invalid = checked('probe', function()
  keys(0)
  integer_value(cutoff, 'cutoff (ARGV[1])')
  if tonumber(integer_value(maxMembers, 'max members (ARGV[2])')) < 1 then
    bad('max members (ARGV[2]) must be at least 1')
  end
end)
if invalid then return invalid end
local out = {}
local max = tonumber(maxMembers)
for i = queuesAt, NARGV do
  local r = redis.pcall('ZRANGEBYSCORE', ARGV[i], '-inf', cutoff, 'WITHSCORES', 'LIMIT', 0, max)
  if type(r) == 'table' and not r.err then
    for j = 1, #r do out[#out + 1] = r[j] end
    if #out >= 2 * max then break end
  end
end
return out
