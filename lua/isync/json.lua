-- isync.json: the one JSON decoder of the Lua side, and a deterministic encoder (sorted
-- keys, integers without ".0", "/" not escaped). It decodes manifests, configs, docker
-- credential files, image-syncer files and the indexes isync must build itself (platform
-- filter, referrers); fetched manifests are never re-encoded.
--
-- Not lua-cjson (2.1), which isync used for manifests: it cannot tell an empty array from an
-- empty object (an index rebuilt with "os.features": {} instead of [] would be wrong, and an
-- images file holding [] would pass for an empty map), it reads every number as a float (a
-- size past 2^53 comes back rounded), and it was a run-time dependency of a binary that
-- otherwise carries its Lua. It is faster (13 against 56 microseconds for a 1 KB manifest),
-- which a copy that waits on the network for every manifest does not notice. json_spec
-- "decodes what lua-cjson could not" shows the differences. null decodes to M.null.
local M = {}

M.array_mt = { __name = "json.array" }
M.null = setmetatable({}, { __name = "json.null", __tostring = function() return "null" end })

local function decode_error(s, i, what)
  error(("json: %s at byte %d"):format(what, i), 0)
end

local ESCAPES = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }

local function utf8_char(cp) return utf8.char(cp) end

local decode_value

local function skip(s, i)
  return s:find("[^ \t\r\n]", i) or #s + 1
end

local function decode_string(s, i)
  local out, j = {}, i + 1
  while true do
    local k = s:find('["\\%c]', j)
    if not k then decode_error(s, i, "unterminated string") end
    local c = s:sub(k, k)
    out[#out + 1] = s:sub(j, k - 1)
    if c == '"' then return table.concat(out), k + 1 end
    if c ~= "\\" then decode_error(s, k, "control character in string") end
    local e = s:sub(k + 1, k + 1)
    if ESCAPES[e] then
      out[#out + 1] = ESCAPES[e]
      j = k + 2
    elseif e == "u" then
      local hex = s:match("^%x%x%x%x", k + 2)
      if not hex then decode_error(s, k, "bad \\u escape") end
      local cp = tonumber(hex, 16)
      j = k + 6
      if cp >= 0xD800 and cp <= 0xDBFF then
        local lo = s:match("^\\u(%x%x%x%x)", j)
        lo = lo and tonumber(lo, 16)
        if lo and lo >= 0xDC00 and lo <= 0xDFFF then
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00)
          j = j + 6
        end
      end
      out[#out + 1] = utf8_char(cp)
    else
      decode_error(s, k, "bad escape")
    end
  end
end

decode_value = function(s, i, depth)
  if depth > 200 then decode_error(s, i, "nesting too deep") end
  i = skip(s, i)
  local c = s:sub(i, i)
  if c == "{" then
    local obj = {}
    i = skip(s, i + 1)
    if s:sub(i, i) == "}" then return obj, i + 1 end
    while true do
      if s:sub(i, i) ~= '"' then decode_error(s, i, "expected a key") end
      local key
      key, i = decode_string(s, i)
      i = skip(s, i)
      if s:sub(i, i) ~= ":" then decode_error(s, i, "expected ':'") end
      obj[key], i = decode_value(s, i + 1, depth + 1)
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "}" then return obj, i + 1 end
      if d ~= "," then decode_error(s, i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = setmetatable({}, M.array_mt)
    i = skip(s, i + 1)
    if s:sub(i, i) == "]" then return arr, i + 1 end
    while true do
      arr[#arr + 1], i = decode_value(s, i, depth + 1)
      i = skip(s, i)
      local d = s:sub(i, i)
      if d == "]" then return arr, i + 1 end
      if d ~= "," then decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif s:find("^true", i) then return true, i + 4
  elseif s:find("^false", i) then return false, i + 5
  elseif s:find("^null", i) then return M.null, i + 4
  else
    local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
    if not num or num == "" or num == "-" then decode_error(s, i, "unexpected character") end
    local v = math.tointeger(tonumber(num)) or tonumber(num)
    if not v then decode_error(s, i, "bad number") end
    return v, i + #num
  end
end

--- Decodes JSON text; arrays carry M.array_mt so empty ones stay arrays, null is M.null.
--- nil, message on malformed input.
function M.decode(text)
  local ok, v, i = pcall(decode_value, text, 1, 0)
  if not ok then return nil, v end
  if skip(text, i) <= #text then return nil, ("json: trailing data at byte %d"):format(i) end
  return v
end

--- Marks a Lua table as a JSON array (for encode).
function M.array(t) return setmetatable(t or {}, M.array_mt) end

local ESC = { ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }

local function encode_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c) return ESC[c] or ("\\u%04x"):format(c:byte()) end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == M.array_mt then return true end
  local n = #t
  if n == 0 then return false end
  for k in pairs(t) do
    if math.type(k) ~= "integer" or k < 1 or k > n then return false end
  end
  return true
end

local encode

local function encode_value(v, out, indent, depth)
  local tv = type(v)
  if v == nil or v == M.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = tostring(v)
  elseif tv == "number" then
    if v ~= v or v == math.huge or v == -math.huge then error("json: cannot encode " .. tostring(v)) end
    local i = math.tointeger(v)
    out[#out + 1] = i and tostring(i) or ("%.17g"):format(v)
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    encode(v, out, indent, depth + 1)
  else
    error("json: cannot encode a " .. tv)
  end
end

encode = function(t, out, indent, depth)
  if depth > 100 then error("json: nesting too deep") end
  local nl = indent and ("\n" .. indent:rep(depth)) or ""
  local nl_close = indent and ("\n" .. indent:rep(depth - 1)) or ""
  local colon = indent and ": " or ":"
  if is_array(t) then
    if #t == 0 then out[#out + 1] = "[]"; return end
    out[#out + 1] = "["
    for i, v in ipairs(t) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = nl
      encode_value(v, out, indent, depth)
    end
    out[#out + 1] = nl_close .. "]"
  else
    local keys = {}
    for k in pairs(t) do
      if type(k) ~= "string" then error("json: object keys must be strings") end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    if #keys == 0 then out[#out + 1] = "{}"; return end
    out[#out + 1] = "{"
    for i, k in ipairs(keys) do
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = nl .. encode_string(k) .. colon
      encode_value(t[k], out, indent, depth)
    end
    out[#out + 1] = nl_close .. "}"
  end
end

--- Encodes v deterministically; indent (e.g. "  ") pretty-prints.
function M.encode(v, indent)
  local out = {}
  encode_value(v, out, indent, 0)
  return table.concat(out)
end

return M
