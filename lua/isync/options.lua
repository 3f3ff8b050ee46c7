-- isync.options: option tables are checked against the names a function takes, so a typo
-- (max_conections, concurency) is an error naming the key and the caller's line, never a
-- setting silently ignored.
local M = {}

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

--- A set of option names: M.names{"a", "b"} -> {a = true, b = true}.
function M.names(list)
  local set = {}
  for _, k in ipairs(list) do set[k] = true end
  return set
end

--- Checks opts (nil or a table) against known (a set). fn names the function in the
--- message; level is the error level of the user's call as seen from the function that
--- calls check (2: its direct caller). Returns opts or {}.
function M.check(opts, known, fn, level)
  level = (level or 2) + 1
  if opts == nil then return {} end
  if type(opts) ~= "table" then error(("%s: options must be a table, not a %s"):format(fn, type(opts)), level) end
  for k in pairs(opts) do
    if type(k) ~= "string" or not known[k] then
      local best, bd
      if type(k) == "string" then
        for name in pairs(known) do
          local d = distance(k, name)
          if d <= 2 and (not bd or d < bd or (d == bd and name < best)) then best, bd = name, d end
        end
      end
      local names = {}
      for name in pairs(known) do names[#names + 1] = name end
      table.sort(names)
      error(("%s: unknown option '%s'%s (options: %s)"):format(fn, tostring(k),
        best and (", did you mean '" .. best .. "'?") or "", table.concat(names, ", ")), level)
    end
  end
  return opts
end

--- Checks that each named option present in opts is a positive number (an integer where
--- integer is set), raising at the user's call like check. Returns opts.
function M.positive(opts, names, fn, level, integer)
  for _, k in ipairs(names) do
    local v = opts[k]
    if v ~= nil and (type(v) ~= "number" or v <= 0 or (integer and math.type(v) ~= "integer")) then
      error(("%s: option '%s' must be a positive %s, not %s"):format(fn, k, integer and "integer" or "number",
        type(v) == "string" and ("%q"):format(v) or tostring(v)), (level or 2) + 1)
    end
  end
  return opts
end

return M
