-- isync.semver: versions as image tags carry them: "1.25.3", "v1.20", "2.0.0-rc.1+build.5".
-- Parse, compare, sort, ranges (">=1.20 <2", "~1.2", "^3", "1.x", "1.2 - 1.4", "a || b"),
-- and "the latest N", overall or per major or minor line. Tags that are not versions
-- ("latest", "stable", "sha-1a2b") are simply left out.
local M = {}

local Version = {}
Version.__index = Version

--- Parses a tag; nil when it is not a version. A leading "v" is allowed; missing minor and
--- patch count as 0 ("1.20" is 1.20.0) but `parts` remembers how many were written.
function M.parse(tag)
  if type(tag) ~= "string" then return nil end
  local core, rest = tag:match("^[vV]?(%d+[%.%d]*)(.*)$")
  if not core or core:sub(-1) == "." then return nil end
  local nums = {}
  for n in core:gmatch("%d+") do nums[#nums + 1] = n end
  if #nums > 3 or core:find("%.%.") then return nil end
  -- a leading zero is not semver; past 18 digits a number is no longer an integer here
  -- (tostring would fail on the float), and no version has such parts
  for _, n in ipairs(nums) do if (#n > 1 and n:sub(1, 1) == "0") or #n > 18 then return nil end end
  local pre, build = rest:match("^%-([0-9A-Za-z%-%.]+)(.*)$")
  if pre then rest = build else pre = nil end
  local b = rest:match("^%+([0-9A-Za-z%-%.]+)$")
  if rest ~= "" and not b then return nil end
  local v = setmetatable({ major = tonumber(nums[1]), minor = tonumber(nums[2] or 0), patch = tonumber(nums[3] or 0),
                           parts = #nums, build = b, tag = tag, pre = {} }, Version)
  if pre then
    for id in (pre .. "."):gmatch("([^.]*)%.") do
      if id == "" then return nil end
      v.pre[#v.pre + 1] = id:match("^%d+$") and #id <= 18 and tonumber(id) or id
    end
  end
  return v
end

function Version:__tostring()
  local s = ("%d.%d.%d"):format(self.major, self.minor, self.patch)
  if #self.pre > 0 then
    local ids = {}
    for i, id in ipairs(self.pre) do ids[i] = tostring(id) end
    s = s .. "-" .. table.concat(ids, ".")
  end
  return s
end

local function cmp_pre(a, b)
  if #a == 0 and #b == 0 then return 0 end
  if #a == 0 then return 1 end      -- a release is above its pre-releases
  if #b == 0 then return -1 end
  for i = 1, math.max(#a, #b) do
    local x, y = a[i], b[i]
    if x == nil then return -1 end
    if y == nil then return 1 end
    if x ~= y then
      local nx, ny = type(x) == "number", type(y) == "number"
      if nx and ny then return x < y and -1 or 1 end
      if nx then return -1 end        -- numeric identifiers sort below alphanumeric ones
      if ny then return 1 end
      return x < y and -1 or 1
    end
  end
  return 0
end

--- -1, 0 or 1 (build metadata does not count). Accepts versions or tags.
function M.compare(a, b)
  a = type(a) == "string" and assert(M.parse(a), "not a version: " .. a) or a
  b = type(b) == "string" and assert(M.parse(b), "not a version: " .. b) or b
  for _, k in ipairs { "major", "minor", "patch" } do
    if a[k] ~= b[k] then return a[k] < b[k] and -1 or 1 end
  end
  return cmp_pre(a.pre, b.pre)
end

Version.__lt = function(a, b) return M.compare(a, b) < 0 end
Version.__le = function(a, b) return M.compare(a, b) <= 0 end
Version.__eq = function(a, b) return M.compare(a, b) == 0 end

--- The tags that are versions, sorted (ascending; descending with desc). Equal versions
--- (v1.2 and 1.2.0) keep a stable order by tag text.
function M.sort(tags, desc)
  local vs = {}
  for _, t in ipairs(tags) do
    local v = M.parse(t)
    if v then vs[#vs + 1] = v end
  end
  table.sort(vs, function(a, b)
    local c = M.compare(a, b)
    if c == 0 then return a.tag < b.tag end
    if desc then return c > 0 end
    return c < 0
  end)
  local out = {}
  for i, v in ipairs(vs) do out[i] = v.tag end
  return out
end

-- ---------------------------------------------------------------- ranges

-- A partial version "1", "1.2", "1.x", "*": {major, minor, patch} with nil for wildcards.
local function partial(s)
  s = s:gsub("^[vV]", "")
  if s == "" or s == "*" or s == "x" or s == "X" then return { n = 0 } end
  local p = { n = 0 }
  local i = 0
  for part in (s .. "."):gmatch("([^.]*)%.") do
    i = i + 1
    if i > 3 then return nil end
    if part == "x" or part == "X" or part == "*" then break end
    local num, pre = part:match("^(%d+)(.*)$")
    if not num then return nil end
    p[i] = tonumber(num)
    p.n = i
    if pre ~= "" then
      if i < 3 then return nil end
      p.pre = M.parse("0.0.0" .. pre)
      if not p.pre then return nil end
    end
  end
  return p
end

local function ver(ma, mi, pa, pre)
  return setmetatable({ major = ma, minor = mi or 0, patch = pa or 0, pre = pre or {}, parts = 3 }, Version)
end

local function lower_of(p) return ver(p[1] or 0, p[2] or 0, p[3] or 0, p.pre and p.pre.pre) end

-- The smallest version above every version matching partial p ("1.2" -> 1.3.0-0).
local function upper_of(p)
  if p.n == 0 then return nil end
  if p.n == 1 then return ver(p[1] + 1, 0, 0, { 0 }) end
  if p.n == 2 then return ver(p[1], p[2] + 1, 0, { 0 }) end
  return nil
end

-- Comparators {op, version}; a range is a list of alternatives, each a list of comparators.
local function comparators(expr)
  local out = {}
  local function add(op, v) out[#out + 1] = { op = op, v = v } end
  -- hyphen ranges: "1.2 - 1.4"
  expr = expr:gsub("(%S+)%s+%-%s+(%S+)", function(a, b) return ">=" .. a .. " <=" .. b end)
  for tok in expr:gmatch("%S+") do
    local op, rest = tok:match("^([<>=~^]*)(.*)$")
    local p = partial(rest)
    if not p then return nil, "invalid version '" .. rest .. "'" end
    if op == "^" then
      add(">=", lower_of(p))
      local up
      if (p[1] or 0) > 0 or p.n == 1 then up = ver((p[1] or 0) + 1, 0, 0, { 0 })
      elseif (p[2] or 0) > 0 or p.n == 2 then up = ver(0, (p[2] or 0) + 1, 0, { 0 })
      else up = ver(0, 0, (p[3] or 0) + 1, { 0 }) end
      add("<", up)
    elseif op == "~" then
      add(">=", lower_of(p))
      if p.n <= 1 then add("<", ver((p[1] or 0) + 1, 0, 0, { 0 })) else add("<", ver(p[1], p[2] + 1, 0, { 0 })) end
    elseif op == "" or op == "=" then
      if p.n == 3 then add("=", lower_of(p))
      elseif p.n > 0 then add(">=", lower_of(p)); add("<", upper_of(p)) end
    elseif op == ">=" then add(">=", lower_of(p))
    elseif op == ">" then
      local up = upper_of(p)
      if up then add(">=", up) else add(">", lower_of(p)) end
    elseif op == "<" then add("<", ver(p[1] or 0, p[2] or 0, p[3] or 0, p.pre and p.pre.pre or (p.n < 3 and { 0 } or nil)))
    elseif op == "<=" then
      local up = upper_of(p)
      if up then add("<", up) else add("<=", lower_of(p)) end
    else
      return nil, "invalid operator '" .. op .. "'"
    end
  end
  return out
end

--- Compiles a range; nil, message, "PATTERN_INVALID" when malformed.
function M.range(expr)
  local alts = {}
  for part in (expr .. "||"):gmatch("(.-)||") do
    local cs, err = comparators(part)
    if not cs then return nil, ("invalid range %q: %s"):format(expr, err), "PATTERN_INVALID" end
    alts[#alts + 1] = cs
  end
  return alts
end

local OPS = {
  ["="] = function(c) return c == 0 end, ["<"] = function(c) return c < 0 end, ["<="] = function(c) return c <= 0 end,
  [">"] = function(c) return c > 0 end, [">="] = function(c) return c >= 0 end,
}

--- Does tag (or version) satisfy range (text or compiled)? Pre-releases only match with
--- opts.prerelease (as npm and helm do).
function M.satisfies(tag, range, opts)
  local v = tag
  if type(tag) == "string" then v = M.parse(tag) end
  if not v then return false end
  if #v.pre > 0 and not (opts and opts.prerelease) then return false end
  local alts = type(range) == "table" and range or assert(M.range(range))
  for _, cs in ipairs(alts) do
    local ok = true
    for _, c in ipairs(cs) do
      local cmp = M.compare(v, c.v)
      -- "<2" excludes 2.0.0-rc: compare against 2.0.0-0 for releases only
      if not OPS[c.op](cmp) then ok = false; break end
    end
    if ok then return true end
  end
  return false
end

--- The latest n tags: overall, or with opts.per = "major" | "minor" the newest version of
--- each line, for the n newest lines. opts.range filters first; opts.prerelease admits them.
--- Returns tags, newest first.
function M.latest(tags, n, opts)
  opts = opts or {}
  local range = opts.range and assert(M.range(opts.range))
  local picked, lines, out = {}, {}, {}
  for _, t in ipairs(M.sort(tags, true)) do
    local v = M.parse(t)
    if (#v.pre == 0 or opts.prerelease) and (not range or M.satisfies(v, range, opts)) then
      picked[#picked + 1] = v
    end
  end
  for _, v in ipairs(picked) do
    if #out >= n then break end
    local key = opts.per == "major" and v.major or opts.per == "minor" and (v.major .. "." .. v.minor) or nil
    if key == nil then
      out[#out + 1] = v.tag
    elseif not lines[key] then
      lines[key] = true
      out[#out + 1] = v.tag
    end
  end
  return out
end

return M
