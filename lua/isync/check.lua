-- isync.check: argument and option-table checks whose errors point at the user's code.
--
-- The modules are embedded in the host, so their own positions read `[isync]/...`, which
-- tells a script author nothing. These errors name the first caller outside isync instead
-- (however deep inside isync the check runs), and a misspelt option key (`max_conections`)
-- is an error naming it, not silently ignored.
local M = {}

--- "FILE:LINE: " of the nearest calling frame outside isync's own modules, or "".
function M.where()
  for level = 2, 60 do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    local src = info.short_src or ""
    if info.currentline > 0 and info.what ~= "C" and not src:find("^%[isync%]") then
      return ("%s:%d: "):format(src, info.currentline)
    end
  end
  return ""
end

--- Raises msg at the user's line.
function M.fail(msg) error(M.where() .. msg, 0) end

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
      M.fail(("%s: unknown option %s (known: %s)"):format(what, type(k) == "string" and ("'" .. k .. "'") or tostring(k),
        known_list(known)))
    end
  end
  return opts
end

return M
