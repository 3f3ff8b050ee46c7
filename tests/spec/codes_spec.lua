-- One table of error codes (src/util/errors.c, seen here as isync.code_info): every code
-- literal in the C and Lua sources must be in it, so a code cannot be invented in one
-- language and missed by the other (isync.retry classifies by the table's class).
--
-- A static scan rather than a check when a failure is built: it sees the codes of paths no
-- test reaches (rare failures are where new codes appear), in both languages, and Lua
-- has no single place where failures are built to check at run time.
local isync = require "isync"

-- Upper-case string literals that are not codes. Keep it short: each is a word of a
-- protocol or a placeholder in help text.
local NOT_CODES = {
  GET = "HTTP method", HEAD = "HTTP method", PUT = "HTTP method", POST = "HTTP method", PATCH = "HTTP method",
  DELETE = "HTTP method",
  HOST = "placeholder", HOSTS = "placeholder", FILE = "placeholder", SRC = "placeholder", DST = "placeholder",
  ORG = "placeholder", DATE = "placeholder", URL = "placeholder", SECONDS = "placeholder", FORMAT = "placeholder",
  PUSH_ARTIFACT = "Harbor's webhook event type", BUSYGROUP = "a Redis error reply's first word",
  JSON = "file format", YAML = "file format", ISYNC_ARGV = "global the host sets",
}
-- the media types' constant names (OCI_INDEX, ...), from their one table
for _, t in ipairs(require("isync.core").media_types) do NOT_CODES[t.name] = "media type constant" end

-- The string literals of a Lua or C source, without comments, each with the text just
-- before it (to skip getenv names). Knows enough of both syntaxes for that: quotes with
-- escapes, Lua long brackets and comments, C block and line comments.
local function literals(text, lang)
  local out, i, n = {}, 1, #text
  while i <= n do
    local c = text:sub(i, i)
    if lang == "lua" and text:sub(i, i + 1) == "--" then
      local eq = text:match("^%[(=*)%[", i + 2)
      if eq then
        local _, e = text:find("]" .. eq .. "]", i, true)
        i = (e or n) + 1
      else
        i = (text:find("\n", i, true) or n) + 1
      end
    elseif lang == "lua" and text:match("^%[=*%[", i) then
      local eq = text:match("^%[(=*)%[", i)
      local _, e = text:find("]" .. eq .. "]", i, true)
      i = (e or n) + 1
    elseif lang == "c" and text:sub(i, i + 1) == "/*" then
      local _, e = text:find("*/", i + 2, true)
      i = (e or n) + 1
    elseif lang == "c" and text:sub(i, i + 1) == "//" then
      i = (text:find("\n", i, true) or n) + 1
    elseif c == '"' or c == "'" then
      local j = i + 1
      while j <= n and text:sub(j, j) ~= c do
        if text:sub(j, j) == "\\" then j = j + 1 end
        j = j + 1
      end
      local line = select(2, text:sub(1, i):gsub("\n", "")) + 1
      out[#out + 1] = { s = text:sub(i + 1, j - 1), before = text:sub(math.max(1, i - 16), i - 1), line = line }
      i = j + 1
    else
      i = i + 1
    end
  end
  return out
end

local function sources()
  local files = {}
  local p = io.popen("find lua/isync src scripts -name '*.lua' -o -name '*.c' -o -name '*.h' | sort")
  for path in p:lines() do files[#files + 1] = path end
  p:close()
  return files
end

-- The codes a source names: upper-case literals (not getenv names nor NOT_CODES), and in
-- Lua the keys read from the tables (codes.X, code_info.X).
local function codes_in(path)
  local f = assert(io.open(path))
  local text = f:read("a")
  f:close()
  local out = {}
  for _, l in ipairs(literals(text, path:match("%.lua$") and "lua" or "c")) do
    if l.s:match("^[A-Z][A-Z0-9_]+$") and #l.s >= 3 and not NOT_CODES[l.s] and not l.before:match("getenv%s*%(?%s*$") then
      out[#out + 1] = { code = l.s, where = path .. ":" .. l.line }
    end
  end
  for _, t in ipairs { "codes", "code_info" } do
    for code in text:gmatch("%f[%w_]" .. t .. "%.([A-Z][A-Z0-9_]+)") do out[#out + 1] = { code = code, where = path } end
  end
  return out
end

describe("error codes", function()
  it("finds the literals of a source, not its comments or environment names", function()
    local got = {}
    for _, l in ipairs(literals('-- "NO1"\nx = "YES1" --[[ "NO2" ]] y = [[ "NO3" ]] z = \'YES2\'', "lua")) do got[#got + 1] = l.s end
    assert.same({ "YES1", "YES2" }, got)
    got = {}
    for _, l in ipairs(literals('/* "NO1" */ f("YES1\\"x"); // "NO2"\n g(\'"\', "YES2");', "c")) do got[#got + 1] = l.s end
    assert.same({ 'YES1\\"x', '"', "YES2" }, got)
    local base = os.tmpname()
    local tmp = base .. ".lua"
    local f = assert(io.open(tmp, "w"))
    f:write('local a = os.getenv("HOME")\nreturn nil, "x", "MADE_UP_CODE" -- "ALSO_NOT"\n')
    f:close()
    local found = codes_in(tmp)
    os.remove(tmp)
    os.remove(base)
    assert.equal(1, #found)
    assert.equal("MADE_UP_CODE", found[1].code)
  end)

  it("every code the C and Lua sources use is in the one table", function()
    local missing = {}
    local n = 0
    for _, path in ipairs(sources()) do
      for _, c in ipairs(codes_in(path)) do
        n = n + 1
        if not isync.code_info[c.code] then missing[#missing + 1] = c.code .. " (" .. c.where .. ")" end
      end
    end
    assert.is_true(n > 50)   -- the scan found the codes at all
    assert.same({}, missing)
  end)

  it("gives Lua each code's class and meaning, and keeps codes.X == \"X\"", function()
    local classes = { transient = 0, permanent = 0, usage = 0, ["local"] = 0 }
    local n = 0
    for code, info in pairs(isync.code_info) do
      n = n + 1
      assert.equal(code, info.code)
      assert.equal(code, isync.codes[code])
      assert.truthy(classes[info.class], code)
      classes[info.class] = classes[info.class] + 1
      assert.is_true(#info.meaning > 10 and not info.meaning:find("\n"), code)
    end
    for code in pairs(isync.codes) do assert.truthy(isync.code_info[code], code) end
    assert.is_true(n >= 36)
    assert.equal("transient", isync.code_info.UNAVAILABLE.class)
    assert.equal("usage", isync.code_info.INVALID_RULE.class)
    assert.equal("permanent", isync.code_info.MANIFEST_UNKNOWN.class)
    for _, count in pairs(classes) do assert.is_true(count > 0) end
  end)
end)
