-- Prelude: argument checks shared by seed, claim, ack and probe (prepended when a script is loaded).
--
-- A script parses and checks ALL of its KEYS and ARGV before its first write and answers an error reply when
-- they do not have exactly the documented shape: a count read from ARGV is never trusted further than the
-- arguments that are actually there, so a misaligned call (wrong key count, a timestamp where a count belongs)
-- fails at once instead of looping, and leaves nothing half-written (Redis does not roll a script back).
-- Their messages name the position (ARGV[p]) that is wrong.
local NARGV = #ARGV
local function bad(msg) error(msg, 0) end
local function keys(n)
  if #KEYS ~= n then bad('expects ' .. n .. ' keys, got ' .. #KEYS) end
  for i = 1, n do if KEYS[i] == '' then bad('KEYS[' .. i .. '] is empty') end end
end
-- `what` names the argument and its position, as in 'now (ARGV[1])'.
local function integer_value(v, what)
  if v == nil or not string.find(v, '^%-?%d+$') then
    bad(what .. ' must be an integer, got ' .. (v == nil and 'nothing' or ('"' .. string.sub(v, 1, 40) .. '"')))
  end
  return v
end
local function integer(p, what)
  return integer_value(ARGV[p], what .. ' (ARGV[' .. p .. '])')
end
local function integer_or_empty(p, what)
  if ARGV[p] == '' then return '' end
  return integer(p, what)
end
local function present(p, what)
  if ARGV[p] == nil then bad(what .. ' (ARGV[' .. p .. ']) is missing') end
  return ARGV[p]
end
-- A count at ARGV[p] of items `width` arguments wide, which must all be among the arguments given.
local function count(p, width, what)
  local n = tonumber(integer(p, what))
  if n < 0 or p + n * width > NARGV then
    bad(what .. ' (ARGV[' .. p .. ']) = ' .. ARGV[p] .. ' does not fit the ' .. NARGV .. ' arguments given')
  end
  return n
end
-- Runs the checks; an error reply names the script and the first problem.
local function checked(script, parse)
  local ok, err = pcall(parse)
  if ok then return nil end
  return redis.error_reply('ERR tollgate ' .. script .. ': bad arguments: ' .. tostring(err))
end
