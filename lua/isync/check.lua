-- isync.check: argument and option-table checks whose errors point at the user's code.
--
-- The modules are embedded in the host, so their own positions read `[isync]/...`, which
-- tells a script author nothing. These errors name the first caller outside isync instead
-- (however deep inside isync the check runs), and a misspelt option key (`max_conections`)
-- is an error naming it, not silently ignored.
local M = {}

-- isync's own modules: "@[isync]/..." when embedded in the host, else files in the directory
-- this one was loaded from (require "isync" from stock lua5.4, lua/isync/ and compat/).
local MODULE_DIR = debug.getinfo(1, "S").source:match("^@(.*[/\\])check%.lua$")

local function ours(source)
  if source:find("^@%[isync%]") then return true end
  return MODULE_DIR ~= nil and source:sub(2, #MODULE_DIR + 1) == MODULE_DIR
end

--- "FILE:LINE: " of the nearest calling frame outside isync's own modules, or "".
function M.where()
  for level = 2, 60 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    local src = info.short_src or ""
    if info.currentline > 0 and info.what ~= "C" and not ours(info.source or "") then
      return ("%s:%d: "):format(src, info.currentline)
    end
  end
  return ""
end

--- Raises msg at the user's line.
function M.fail(msg) error(M.where() .. msg, 0) end

-- Edit distance, for "did you mean": option names are short, the quadratic loop is fine.
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a:byte(i) == b:byte(j) and 0 or 1))
    end
    prev = cur
  end
  return prev[#b]
end

-- The known name within two edits of k (the first in sorted order on a tie), or nil.
local function nearest(k, known)
  local best, bd
  for _, name in ipairs(known) do
    local d = distance(k, name)
    if d <= 2 and (not bd or d < bd or (d == bd and name < best)) then best, bd = name, d end
  end
  return best
end

-- known: a list of key names; kept sorted in the message so it reads the same each run.
local function known_list(known)
  local names = {}
  for _, k in ipairs(known) do names[#names + 1] = k end
  table.sort(names)
  return table.concat(names, ", ")
end

--- Checks that opts (nil or a table) holds only keys from the list known; returns opts or {}.
--- what names the function for the message ("isync.registry options").
function M.options(opts, known, what)
  if opts == nil then return {} end
  if type(opts) ~= "table" then M.fail(("%s: a table is needed, not a %s"):format(what, type(opts))) end
  local set = known.set
  if not set then
    set = {}
    for _, k in ipairs(known) do set[k] = true end
    known.set = set
  end
  for k in pairs(opts) do
    if not set[k] then
      local near = type(k) == "string" and nearest(k, known)
      M.fail(("%s: unknown option %s%s (known: %s)"):format(what, type(k) == "string" and ("'" .. k .. "'") or tostring(k),
        near and (", did you mean '" .. near .. "'?") or "", known_list(known)))
    end
  end
  return opts
end

--- Checks that each named option present in opts is a positive number (an integer with
--- integer set): a string stall_timeout must fail here, not as a compare error mid-copy.
function M.positive(opts, names, what, integer)
  for _, k in ipairs(names) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v <= 0 or (integer and math.type(v) ~= "integer")) then
      M.fail(("%s: %s must be a positive %s, not %s"):format(what, k, integer and "integer" or "number",
        type(v) == "string" and ("%q"):format(v) or tostring(v)))
    end
  end
  return opts
end

return M
