-- read: current counters and effective limits, in one atomic step. Runs after the preludes lib/lean-checks.lua
-- and lib/shard.lua.
--
-- Steps: 1. check every argument (an error reply otherwise, nothing written); 2. scopes not seeded: {'S'} (seed
-- 'r'), or mark them seeded now (seed 'a'); 3. release expired reservations; 4. read each limited candidate.
--
-- KEYS[1] shard key stem <prefix>{<tag>}
-- ARGV[1] now (ms)  ARGV[2] seed: r(equired) | a(uto)  then the scopes (count, then <scope>:<id> each)
-- then the candidates (see read_candidates, no amounts)
--
-- Returns {'S'} needs seed | {'O', counters} with counters = {candidate, limit, used, ...}.
--
-- Every position is bound to a name here (the same names as READ in src/script-layout.ts).
local shardStem = KEYS[1] or '' -- '' until the key count is checked, so a call without keys gets its error
local now = ARGV[1]
local seed = ARGV[2]
local scopesAt = 3 -- ARGV position of the scope count; the variable-length rest follows it
use_shard(shardStem)

if #KEYS ~= 1 then return bad('read', 'expects 1 keys, got ' .. #KEYS) end
if shardStem == '' then return bad('read', 'a key is empty') end
if NARGV < 5 then return bad('read', 'expects at least 5 arguments, got ' .. NARGV) end
if not find(now, INT) then return bad('read', 'now (ARGV[1]) must be an integer') end
if seed ~= 'r' and seed ~= 'a' then return bad('read', 'seed (ARGV[2]) must be r or a') end
local scopes, p, err = read_scopes(scopesAt)
if not scopes then return bad('read', err) end
local cands
cands, p, err = read_candidates(p, false)
if not cands then return bad('read', err) end
if p ~= NARGV + 1 then return bad('read', (NARGV + 1 - p) .. ' unexpected trailing arguments') end
if not seeded_or(seed, scopes) then return {'S'} end
release_expired(now)
local limits = resolve_limits(cands)
local counters = {}
for i = 1, #cands do
  if limits[i] then
    counters[#counters + 1] = i; counters[#counters + 1] = limits[i]; counters[#counters + 1] = current(cands[i].key)
  end
end
return {'O', counters}
