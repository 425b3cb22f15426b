-- seed: for the scopes not seeded yet, sets their counters, restores missing overrides (keeping any set since),
-- and marks them seeded; scopes already seeded keep their counters. Runs after the prelude lib/checks.lua.
--
-- Steps, in this one script call: 1. check every argument (an error reply otherwise, nothing written); 2. find
-- the scopes not seeded yet (none: return 0); 3. set their counters; 4. add the overrides missing (HSETNX);
-- 5. mark the scopes seeded.
--
-- KEYS[1] shard key stem  KEYS[2] seeded-scopes hash  KEYS[3] overrides hash
-- ARGV[1] scopes (count), then <scope>:<id> each
-- then counters (count), 5 each: scope (its position in the scope list), override field, period key, used,
-- expiry (ms) or ''; then overrides, 2 each: field, limit
--
-- Returns 1 when some scope was seeded now, 0 when every scope was seeded already (nothing changed).
--
-- Every position is bound to a name here (the same names as SEED in src/script-layout.ts).
local shardStem = KEYS[1]
local seededScopes = KEYS[2]
local overrides = KEYS[3]
local scopesAt = 1 -- ARGV position of the scope count; the variable-length rest follows it

local nscope, ncounter, first = 0, 0, 0
local invalid = checked('seed', function()
  keys(3)
  nscope = count(scopesAt, 1, 'scope count')
  for i = 1, nscope do present(scopesAt + i, 'scope') end
  local c = scopesAt + 1 + nscope
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
for i = 1, nscope do scopes[i] = ARGV[scopesAt + i] end
local flags = redis.call('HMGET', seededScopes, unpack(scopes))
local fresh, marks = {}, {}
for i = 1, nscope do
  if not flags[i] then fresh[i] = true; marks[#marks + 1] = scopes[i]; marks[#marks + 1] = '1' end
end
if #marks == 0 then return 0 end
for i = 1, ncounter do
  local b = first + (i - 1) * 5
  if fresh[tonumber(ARGV[b])] then
    local key = shardStem .. ':c:' .. ARGV[b + 1] .. ':' .. ARGV[b + 2]
    redis.call('SET', key, ARGV[b + 3])
    if ARGV[b + 4] ~= '' then redis.call('PEXPIREAT', key, ARGV[b + 4]) end
  end
end
for j = first + 5 * ncounter, NARGV, 2 do redis.call('HSETNX', overrides, ARGV[j], ARGV[j + 1]) end
redis.call('HSET', seededScopes, unpack(marks))
return 1
