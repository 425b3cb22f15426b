-- Prelude: the argument checks, lean, for the two scripts on the request path (apply, read), prepended when
-- they are loaded.
--
-- Few helper functions (a script's body, helpers included, runs afresh on every call, and each helper is a
-- closure created then), no pcall, and full integer checks only for values that reach INCRBY / HINCRBY /
-- PEXPIREAT / ZADD, where a bad one would fail after earlier writes; limits and thresholds are only compared, so
-- a number is enough there. Each checking function answers nil and a message instead of raising, and the script
-- returns the error reply.
local NARGV = #ARGV
local find = string.find
-- A decimal integer, as INCRBY, HINCRBY, PEXPIREAT and ZADD read it; matched inline (a call per check costs).
local INT = '^%-?%d+$'
-- A count at ARGV[p] of items `width` arguments wide: nil unless it is a whole number whose items are all given.
local function fits(p, width)
  local n = tonumber(ARGV[p])
  if n == nil or n < 0 or n % 1 ~= 0 or p + n * width > NARGV then return nil end
  return n
end
local function misfit(what, p)
  return what .. ' (ARGV[' .. p .. ']) = ' .. tostring(ARGV[p]) .. ' does not fit the ' .. NARGV .. ' arguments given'
end
local function bad(script, msg) return redis.error_reply('ERR tollgate ' .. script .. ': bad arguments: ' .. msg) end
