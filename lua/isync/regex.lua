-- isync.regex: Go regexp (RE2 syntax) matching in pure Lua, for tag filters.
--
-- image-syncer users write tag filters for Go's regexp package, so we follow its parser
-- (regexp/syntax with the Perl flags) and its leftmost-first semantics, matched unanchored
-- like MatchString. The pattern is parsed to an AST, compiled to a small instruction
-- program laid out as Go lays it out, and run by a backtracker that never visits an
-- (instruction, position) pair twice: that bounds the work by program size times input
-- length, terminates on empty loops like (a*)*, and yields the same match as Go's engines.
--
-- ASCII is what tags use; non-ASCII text is handled rune-wise as Go does (`.` and classes
-- consume a whole UTF-8 sequence), but case folding is ASCII only and \p{..} is rejected.
local M = {}

local byte, sub, find = string.byte, string.sub, string.find

local MAX_REPEAT = 1000      -- Go's limit for {n,m}, also for nested products
local MAX_DEPTH = 1000       -- Go's nesting limit
local MAX_INST = 50000       -- our program size limit (Go allows far more; tags never need it)
local MAX_RUNE = 0x10FFFF

local F_I, F_M, F_S, F_U = 1, 2, 4, 8   -- (?i) (?m) (?s) (?U)

-- Errors -------------------------------------------------------------------------------

local Err = {}

local function fail(code, expr, hint)
  error(setmetatable({ code = code, expr = expr, hint = hint }, Err), 0)
end

local function show(pattern)
  -- keep the message on one line whatever the pattern holds
  return (pattern:gsub("%c", function(c) return string.format("\\x%02x", byte(c)) end))
end

local function message(pattern, e)
  local m = 'invalid regex "' .. show(pattern) .. '": ' .. e.code
  if e.expr and e.expr ~= "" then m = m .. ": `" .. show(e.expr) .. "`" end
  if e.hint then m = m .. " (" .. e.hint .. ")" end
  return m
end

-- Bytes, runes, classes ----------------------------------------------------------------

local function is_digit(c) return c and c >= 48 and c <= 57 end
local function is_alnum(c)
  return c and (c >= 48 and c <= 57 or c >= 65 and c <= 90 or c >= 97 and c <= 122)
end
local function is_upper(c) return c >= 65 and c <= 90 end
local function is_lower(c) return c >= 97 and c <= 122 end
local function hexval(c)
  if not c then return nil end
  if c >= 48 and c <= 57 then return c - 48 end
  if c >= 97 and c <= 102 then return c - 87 end
  if c >= 65 and c <= 70 then return c - 55 end
  return nil
end

local WORD = {}
for c = 0, 127 do WORD[c] = is_alnum(c) or c == 95 end

-- Decode the rune at i the way Go's utf8.DecodeRune does: invalid bytes are U+FFFD, width 1.
local function decode(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, 1 end
  if c < 0xC2 or c > 0xF4 then return 0xFFFD, 1 end
  local c1 = byte(s, i + 1)
  if c < 0xE0 then
    if c1 and c1 >= 0x80 and c1 <= 0xBF then return (c & 0x1F) << 6 | (c1 & 0x3F), 2 end
    return 0xFFFD, 1
  end
  local lo, hi = 0x80, 0xBF
  if c == 0xE0 then lo = 0xA0 elseif c == 0xED then hi = 0x9F
  elseif c == 0xF0 then lo = 0x90 elseif c == 0xF4 then hi = 0x8F end
  if not c1 or c1 < lo or c1 > hi then return 0xFFFD, 1 end
  local c2 = byte(s, i + 2)
  if not c2 or c2 < 0x80 or c2 > 0xBF then return 0xFFFD, 1 end
  if c < 0xF0 then return (c & 0x0F) << 12 | (c1 & 0x3F) << 6 | (c2 & 0x3F), 3 end
  local c3 = byte(s, i + 3)
  if not c3 or c3 < 0x80 or c3 > 0xBF then return 0xFFFD, 1 end
  return (c & 0x07) << 18 | (c1 & 0x3F) << 12 | (c2 & 0x3F) << 6 | (c3 & 0x3F), 4
end

-- A class is an ASCII membership table plus sorted {lo, hi, ...} ranges for runes >= 128.
local function new_class() return { ascii = {}, ranges = {} } end

local function class_add(cls, lo, hi, fold)
  local a = cls.ascii
  for c = lo, hi < 127 and hi or 127 do
    a[c] = true
    if fold then
      if is_upper(c) then a[c + 32] = true elseif is_lower(c) then a[c - 32] = true end
    end
  end
  if hi >= 128 then
    local r = cls.ranges
    r[#r + 1] = lo < 128 and 128 or lo
    r[#r + 1] = hi
  end
end

local function class_clean(cls)
  local r, pairs_ = cls.ranges, {}
  for i = 1, #r, 2 do pairs_[#pairs_ + 1] = { r[i], r[i + 1] } end
  table.sort(pairs_, function(x, y) return x[1] < y[1] end)
  local out = {}
  for _, p in ipairs(pairs_) do
    if #out > 0 and p[1] <= out[#out] + 1 then
      if p[2] > out[#out] then out[#out] = p[2] end
    else
      out[#out + 1], out[#out + 2] = p[1], p[2]
    end
  end
  cls.ranges = out
  return cls
end

local function class_negate(cls)
  class_clean(cls)
  local a, na = cls.ascii, {}
  for c = 0, 127 do na[c] = not a[c] or nil end
  local out, next_lo = {}, 128
  local r = cls.ranges
  for i = 1, #r, 2 do
    if r[i] > next_lo then out[#out + 1], out[#out + 2] = next_lo, r[i] - 1 end
    next_lo = r[i + 1] + 1
  end
  if next_lo <= MAX_RUNE then out[#out + 1], out[#out + 2] = next_lo, MAX_RUNE end
  cls.ascii, cls.ranges = na, out
  return cls
end

local function class_union(dst, src)
  for c in pairs(src.ascii) do dst.ascii[c] = true end
  local d = dst.ranges
  for _, v in ipairs(src.ranges) do d[#d + 1] = v end
end

-- Go's perl_groups.go: ASCII-only, \s is [\t\n\f\r ] (no \v). Keyed by the escaped byte.
local PERL = {}
for name, ranges in pairs({ d = { 48, 57 }, s = { 9, 10, 12, 13, 32, 32 },
                            w = { 48, 57, 65, 90, 95, 95, 97, 122 } }) do
  PERL[byte(name)] = { ranges, false }
  PERL[byte(name:upper())] = { ranges, true }
end
local POSIX = {
  alnum = { 48, 57, 65, 90, 97, 122 },
  alpha = { 65, 90, 97, 122 },
  ascii = { 0, 127 },
  blank = { 9, 9, 32, 32 },
  cntrl = { 0, 31, 127, 127 },
  digit = { 48, 57 },
  graph = { 33, 126 },
  lower = { 97, 122 },
  print = { 32, 126 },
  punct = { 33, 47, 58, 64, 91, 96, 123, 126 },
  space = { 9, 13, 32, 32 },
  upper = { 65, 90 },
  word = { 48, 57, 65, 90, 95, 95, 97, 122 },
  xdigit = { 48, 57, 65, 70, 97, 102 },
}

-- Like Go's appendGroup: fold first, then negate the group.
local function class_add_group(cls, ranges, negated, fold)
  local g = new_class()
  for i = 1, #ranges, 2 do class_add(g, ranges[i], ranges[i + 1], fold) end
  if negated then class_negate(g) end
  class_union(cls, g)
end

-- Parser -------------------------------------------------------------------------------
-- AST nodes: lit {b, fold}, set {cls}, any {nl}, assert {kind}, empty, cat {list},
-- alt {list}, rep {sub, min, max (-1 = unbounded), greedy, counted}.

local EMPTY = { op = "empty" }

local function rune_at(s, i)
  local c = byte(s, i)
  if c < 0x80 then return c, i + 1 end
  local cp, w = decode(s, i)
  return cp, i + w
end

local function literal(cp, flags)
  if cp < 128 then
    if flags & F_I ~= 0 and (is_upper(cp) or is_lower(cp)) then
      return { op = "lit", b = cp | 32, fold = true }
    end
    return { op = "lit", b = cp }
  end
  -- a non-ASCII rune is one atom, so that é+ repeats the whole character
  local bytes, list = utf8.char(cp), {}
  for k = 1, #bytes do list[k] = { op = "lit", b = byte(bytes, k) } end
  return { op = "cat", list = list }
end

local C_ESCAPES = { [97] = 7, [102] = 12, [110] = 10, [114] = 13, [116] = 9, [118] = 11 }  -- \a\f\n\r\t\v

-- Go's parseEscape: returns the code point and the index after the escape.
local function parse_escape(s, i)
  local n = #s
  if i + 1 > n then fail("trailing backslash at end of expression", "") end
  local c, j = rune_at(s, i + 1)
  if c < 128 and not is_alnum(c) then return c, j end
  if c >= 49 and c <= 55 then                        -- \1-\7: octal only if more digits follow
    local d = byte(s, j)
    if not (d and d >= 48 and d <= 55) then
      fail("invalid escape sequence", sub(s, i, j - 1), "backreferences are not supported")
    end
  end
  if c >= 48 and c <= 55 then
    local r = c - 48
    for _ = 1, 2 do
      local d = byte(s, j)
      if not (d and d >= 48 and d <= 55) then break end
      r, j = r * 8 + d - 48, j + 1
    end
    return r, j
  end
  if c == 120 then                                   -- \x41, \x{10FFFF}
    if j > n then fail("invalid escape sequence", sub(s, i, j - 1)) end
    if byte(s, j) == 123 then
      j = j + 1
      local r, nhex = 0, 0
      while true do
        local d = byte(s, j)
        if not d then fail("invalid escape sequence", sub(s, i, j - 1)) end
        j = j + 1
        if d == 125 then break end
        local v = hexval(d)
        if not v then fail("invalid escape sequence", sub(s, i, j - 1)) end
        r, nhex = r * 16 + v, nhex + 1
        if r > MAX_RUNE then fail("invalid escape sequence", sub(s, i, j - 1)) end
      end
      if nhex == 0 then fail("invalid escape sequence", sub(s, i, j - 1)) end
      return r, j
    end
    local x, y = hexval(byte(s, j)), hexval(byte(s, j + 1))
    if not (x and y) then fail("invalid escape sequence", sub(s, i, math.min(j + 1, n))) end
    return x * 16 + y, j + 2
  end
  if C_ESCAPES[c] then return C_ESCAPES[c], j end
  fail("invalid escape sequence", sub(s, i, j - 1))
end

local function unicode_class_error(s, i)
  local e = i + 2
  if byte(s, e) == 123 then e = find(s, "}", e, true) or #s end
  fail("invalid character class range", sub(s, i, e), "Unicode classes \\p{..} are not supported")
end

-- One member of a class (a byte, rune or escape); start is where the class began.
local function class_char(s, k, start)
  if k > #s then fail("missing closing ]", sub(s, start)) end
  if byte(s, k) == 92 then return parse_escape(s, k) end
  return rune_at(s, k)
end

-- Go's parseClass; s[i] is '['. Returns a set node and the index after ']'.
local function parse_class(s, i, flags)
  local n, start = #s, i
  local fold = flags & F_I ~= 0
  local cls = new_class()
  local negate = false
  i = i + 1
  if byte(s, i) == 94 then negate, i = true, i + 1 end
  local first = true                                 -- ']' is literal when first
  while i > n or byte(s, i) ~= 93 or first do
    first = false
    local c = byte(s, i)
    local done = false
    if c == 91 and byte(s, i + 1) == 58 and i + 2 <= n then   -- [:name:] (Go searches anywhere)
      local e = find(s, ":]", i + 2, true)
      if e then
        local name = sub(s, i + 2, e - 1)
        local neg = byte(name, 1) == 94
        local g = POSIX[neg and sub(name, 2) or name]
        if not g then fail("invalid character class range", sub(s, i, e + 1)) end
        class_add_group(cls, g, neg, fold)
        i, done = e + 2, true
      end
    end
    if not done and c == 92 then
      local d = byte(s, i + 1)
      if d == 112 or d == 80 then unicode_class_error(s, i) end
      local g = PERL[d]
      if g then
        class_add_group(cls, g[1], g[2], fold)
        i, done = i + 2, true
      end
    end
    if not done then
      local rng = i
      local lo, hi
      lo, i = class_char(s, i, start)
      hi = lo
      if byte(s, i) == 45 and i + 1 <= n and byte(s, i + 1) ~= 93 then   -- a-z, but [a-] is a|-
        hi, i = class_char(s, i + 1, start)
        if hi < lo then fail("invalid character class range", sub(s, rng, i - 1)) end
      end
      class_add(cls, lo, hi, fold)
    end
  end
  class_clean(cls)
  if negate then class_negate(cls) end               -- Perl flags: [^a] also matches \n
  return { op = "set", cls = cls }, i + 1
end

-- Go's parseInt: no leading zeros; huge values become -1 (then rejected).
local function parse_int(s, i)
  local c = byte(s, i)
  if not is_digit(c) then return nil end
  if c == 48 and is_digit(byte(s, i + 1)) then return nil end
  local j, v = i, 0
  while is_digit(byte(s, j)) do
    if v >= 1e8 then v = -1 end
    if v >= 0 then v = v * 10 + byte(s, j) - 48 end
    j = j + 1
  end
  return v, j
end

-- {n}, {n,}, {n,m}: returns min, max, index after '}'; nil when it is a literal '{'.
local function parse_repeat(s, i)
  local min, j = parse_int(s, i + 1)
  if not min then return nil end
  local max
  if byte(s, j) == 44 then
    if byte(s, j + 1) == 125 then
      max, j = -1, j + 1
    else
      max, j = parse_int(s, j + 1)
      if not max then return nil end
      if max < 0 then min = -1 end
    end
  else
    max = min
  end
  if byte(s, j) ~= 125 then return nil end
  return min, max, j + 1
end

-- Go's repeatIsValid: nested counted repetitions may not exceed n copies in total.
local function repeat_is_valid(node, n)
  if node.op == "rep" and node.counted then
    local m = node.max
    if m == 0 then return true end
    if m < 0 then m = node.min end
    if m > n then return false end
    if m > 0 then n = n // m end
  end
  if node.sub then return repeat_is_valid(node.sub, n) end
  if node.list then
    for _, x in ipairs(node.list) do
      if not repeat_is_valid(x, n) then return false end
    end
  end
  return true
end

local function make_cat(items)
  if #items == 0 then return EMPTY end
  if #items == 1 then return items[1] end
  return { op = "cat", list = items }
end

local parse_seq

local function parse_group(p, flags, depth)
  if depth > MAX_DEPTH then fail("expression nests too deeply") end
  local node = parse_seq(p, flags, depth)
  if p.i > #p.s then fail("missing closing )") end
  p.i = p.i + 1                                      -- the ')'
  return node
end

-- After "(?": a named group, a flag change, or a flag-scoped group. Returns the group
-- node (or nil for a bare flag change) and the flags now in force.
local function parse_perl_group(p, flags, depth)
  local s, i = p.s, p.i
  local n = #s
  local la = sub(s, i, i + 3)
  if la:sub(1, 3) == "(?=" or la:sub(1, 3) == "(?!" or la == "(?<=" or la == "(?<!" then
    fail("invalid or unsupported Perl syntax", la:sub(1, la:sub(3, 3) == "<" and 4 or 3),
      "lookaround assertions are not supported")
  end
  local named = n - i + 1 > 4 and sub(s, i + 2, i + 3) == "P<" or n - i + 1 > 3 and byte(s, i + 2) == 60
  if named then
    local begin = byte(s, i + 2) == 80 and i + 4 or i + 3
    local e = find(s, ">", i, true)
    if not e then fail("invalid named capture", sub(s, i)) end
    local name = sub(s, begin, e - 1)
    if name == "" or name:find("[^%w_]") then fail("invalid named capture", sub(s, i, e)) end
    p.i = e + 1
    return parse_group(p, flags, depth + 1), flags
  end
  local nf, negated, saw = flags, false, false
  local j = i + 2
  while j <= n do
    local c = byte(s, j)
    j = j + 1
    local bit = (c == 105 and F_I) or (c == 109 and F_M) or (c == 115 and F_S) or (c == 85 and F_U)
    if bit then
      nf = negated and (nf & ~bit) or (nf | bit)
      saw = true
    elseif c == 45 and not negated then             -- '-': the rest clear flags
      negated, saw = true, false
    elseif (c == 58 or c == 41) and not (negated and not saw) then
      p.i = j
      if c == 41 then return nil, nf end             -- (?i): flags for the rest of the group
      return parse_group(p, nf, depth + 1), flags    -- (?i:re): flags for re only
    else
      break
    end
  end
  fail("invalid or unsupported Perl syntax", sub(s, i, j - 1))
end

-- Parses alternatives up to an unmatched ')' (left in place) or the end.
function parse_seq(p, flags, depth)
  local s = p.s
  local n = #s
  local alts, items = {}, {}
  local last_repeat                                  -- start of the previous repetition op
  while p.i <= n do
    local i = p.i
    local c = byte(s, i)
    local this_repeat
    if c == 41 then                                  -- ')'
      break
    elseif c == 124 then                             -- '|'
      alts[#alts + 1] = make_cat(items)
      items, p.i = {}, i + 1
    elseif c == 40 then                              -- '('
      if byte(s, i + 1) == 63 then
        local node
        node, flags = parse_perl_group(p, flags, depth)
        if node then items[#items + 1] = node end
      else
        p.i = i + 1
        items[#items + 1] = parse_group(p, flags, depth + 1)
      end
    elseif c == 42 or c == 43 or c == 63 or c == 123 then   -- * + ? {
      local min, max, after
      if c == 123 then
        min, max, after = parse_repeat(s, i)
        if min and (min < 0 or min > MAX_REPEAT or max > MAX_REPEAT or max >= 0 and min > max) then
          fail("invalid repeat count", sub(s, i, after - 1))
        end
      else
        min, max, after = (c == 43 and 1 or 0), (c == 63 and 1 or -1), i + 1
      end
      if not min then                                -- '{' that is no repeat is a literal
        items[#items + 1] = literal(123, flags)
        p.i = i + 1
      else
        local greedy = flags & F_U == 0
        if byte(s, after) == 63 then greedy, after = not greedy, after + 1 end
        if last_repeat then
          fail("invalid nested repetition operator", sub(s, last_repeat, after - 1))
        end
        if #items == 0 then fail("missing argument to repetition operator", sub(s, i, after - 1)) end
        local node = { op = "rep", sub = items[#items], min = min, max = max, greedy = greedy,
                       counted = c == 123 }
        if c == 123 and (min >= 2 or max >= 2) and not repeat_is_valid(node, MAX_REPEAT) then
          fail("invalid repeat count", sub(s, i, after - 1))
        end
        items[#items] = node
        p.i, this_repeat = after, i
      end
    elseif c == 94 then                              -- '^'
      items[#items + 1] = { op = "assert", kind = flags & F_M ~= 0 and "bol" or "bot" }
      p.i = i + 1
    elseif c == 36 then                              -- '$'
      items[#items + 1] = { op = "assert", kind = flags & F_M ~= 0 and "eol" or "eot" }
      p.i = i + 1
    elseif c == 46 then                              -- '.'
      items[#items + 1] = { op = "any", nl = flags & F_S ~= 0 }
      p.i = i + 1
    elseif c == 91 then                              -- '['
      items[#items + 1], p.i = parse_class(s, i, flags)
    elseif c == 92 then                              -- '\'
      local d = byte(s, i + 1)
      local kind = d and ({ [65] = "bot", [122] = "eot", [98] = "wb", [66] = "nwb" })[d]
      if kind then
        items[#items + 1] = { op = "assert", kind = kind }
        p.i = i + 2
      elseif d == 67 then
        fail("invalid escape sequence", "\\C", "matching single bytes is not supported")
      elseif d == 81 then                            -- \Q...\E: all literal
        local e = find(s, "\\E", i + 2, true)
        local j, stop = i + 2, e or n + 1
        while j < stop do
          local cp
          cp, j = rune_at(s, j)
          items[#items + 1] = literal(cp, flags)
        end
        p.i = e and e + 2 or n + 1
      elseif d == 112 or d == 80 then
        unicode_class_error(s, i)
      elseif PERL[d] then
        local cls = new_class()
        class_add_group(cls, PERL[d][1], PERL[d][2], flags & F_I ~= 0)
        class_clean(cls)
        items[#items + 1] = { op = "set", cls = cls }
        p.i = i + 2
      else
        local cp
        cp, p.i = parse_escape(s, i)
        items[#items + 1] = literal(cp, flags)
      end
    else
      local cp
      cp, p.i = rune_at(s, i)
      items[#items + 1] = literal(cp, flags)
    end
    last_repeat = this_repeat
  end
  alts[#alts + 1] = make_cat(items)
  if #alts == 1 then return alts[1] end
  return { op = "alt", list = alts }
end

local function parse(pattern)
  local ok, bad = utf8.len(pattern)
  if not ok then fail("invalid UTF-8", sub(pattern, bad)) end
  local p = { s = pattern, i = 1 }
  local node = parse_seq(p, 0, 0)
  if p.i <= #pattern then fail("unexpected )") end
  return node
end

-- Compiler -----------------------------------------------------------------------------
-- Instructions: CHAR b; CHAR2 b1|b2 (folded letter); SET class; ANY (dotall); ANYNL;
-- ASSERT kind; SPLIT (try out, then alt); MATCH. Compiled back to front: each node is
-- compiled with the pc of what follows it, and returns its own entry pc.

local CHAR, CHAR2, SET, ANY, ANYNL, ASSERT, SPLIT, MATCH = 1, 2, 3, 4, 5, 6, 7, 8

local function nullable(node)
  local op = node.op
  if op == "lit" or op == "set" or op == "any" then return false end
  if op == "cat" then
    for _, x in ipairs(node.list) do if not nullable(x) then return false end end
    return true
  end
  if op == "alt" then
    for _, x in ipairs(node.list) do if nullable(x) then return true end end
    return false
  end
  if op == "rep" then return node.min == 0 or nullable(node.sub) end
  return true                                         -- empty, assert
end

local function emit(prog, op, out, arg, alt)
  local pc = #prog.op + 1
  if pc > MAX_INST then fail("expression too large") end
  prog.op[pc], prog.out[pc], prog.arg[pc], prog.alt[pc] = op, out, arg, alt
  return pc
end

local compile_node

local function split(prog, first, second, greedy)
  if greedy then return emit(prog, SPLIT, first, nil, second) end
  return emit(prog, SPLIT, second, nil, first)
end

-- A split that either runs x and comes back to itself, or goes on: returns (split, x's entry).
local function loop(prog, node, nxt, greedy)
  local l = emit(prog, SPLIT)
  local body = compile_node(prog, node, l)
  if greedy then prog.out[l], prog.alt[l] = body, nxt
  else prog.out[l], prog.alt[l] = nxt, body end
  return l, body
end

-- x+ enters the body first; x* enters the split, or is (x+)? when x can match empty, which
-- keeps Go's priority order (golang.org/issue/46123).
local function plus(prog, node, nxt, greedy)
  local _, body = loop(prog, node, nxt, greedy)
  return body
end

local function star(prog, node, nxt, greedy)
  if nullable(node) then return split(prog, plus(prog, node, nxt, greedy), nxt, greedy) end
  return (loop(prog, node, nxt, greedy))
end

function compile_node(prog, node, nxt)
  local op = node.op
  if op == "lit" then
    if node.fold then return emit(prog, CHAR2, nxt, node.b, node.b - 32) end
    return emit(prog, CHAR, nxt, node.b)
  elseif op == "set" then
    return emit(prog, SET, nxt, node.cls.ascii, #node.cls.ranges > 0 and node.cls.ranges or nil)
  elseif op == "any" then
    return emit(prog, node.nl and ANY or ANYNL, nxt)
  elseif op == "assert" then
    return emit(prog, ASSERT, nxt, node.kind)
  elseif op == "empty" then
    return nxt
  elseif op == "cat" then
    for k = #node.list, 1, -1 do nxt = compile_node(prog, node.list[k], nxt) end
    return nxt
  elseif op == "alt" then
    local list = node.list
    local entry = compile_node(prog, list[#list], nxt)
    for k = #list - 1, 1, -1 do
      entry = emit(prog, SPLIT, compile_node(prog, list[k], nxt), nil, entry)
    end
    return entry
  end
  -- rep, expanded the way Go's Simplify does: x{3,} = xxx+, x{2,5} = xx(x(x(x)?)?)?
  local x, min, max, greedy = node.sub, node.min, node.max, node.greedy
  if max == -1 then
    if min == 0 then return star(prog, x, nxt, greedy) end
    nxt = plus(prog, x, nxt, greedy)
    for _ = 1, min - 1 do nxt = compile_node(prog, x, nxt) end
    return nxt
  end
  -- optional tail (x(x(x)?)?)?, built from the innermost copy outwards
  local tail = nxt
  for _ = 1, max - min do
    tail = split(prog, compile_node(prog, x, tail), nxt, greedy)
  end
  for _ = 1, min do tail = compile_node(prog, x, tail) end
  return tail
end

-- A pattern that must start at \A (or ^ without (?m)) is tried at position 1 only.
local function anchored(node)
  if node.op == "assert" then return node.kind == "bot" end
  if node.op == "cat" then return anchored(node.list[1]) end
  if node.op == "alt" then
    for _, x in ipairs(node.list) do if not anchored(x) then return false end end
    return true
  end
  return false
end

-- Matcher ------------------------------------------------------------------------------

local function in_ranges(r, cp)
  for k = 1, #r, 2 do
    if cp < r[k] then return false end
    if cp <= r[k + 1] then return true end
  end
  return false
end

local function assert_ok(kind, s, pos, n)
  if kind == "bot" then return pos == 1 end
  if kind == "eot" then return pos == n + 1 end
  if kind == "bol" then return pos == 1 or byte(s, pos - 1) == 10 end
  if kind == "eol" then return pos == n + 1 or byte(s, pos) == 10 end
  local before = pos > 1 and WORD[byte(s, pos - 1)] or false
  local after = pos <= n and WORD[byte(s, pos)] or false
  if kind == "wb" then return before ~= after end
  return before == after                              -- nwb
end

-- Leftmost-first search: start positions left to right (on rune boundaries, as Go), each a
-- depth-first walk in priority order. visited is shared across starts: a state that failed
-- once fails again, which keeps the whole search linear in program size times input length.
local function search(prog, s)
  local ops, outs, args, alts = prog.op, prog.out, prog.arg, prog.alt
  local n = #s
  local width = n + 2
  local visited, stack = {}, {}
  local start = 1
  while start <= n + 1 do
    local pc, pos, sp = prog.start, start, 0
    while true do
      local key = pc * width + pos
      local word, bit = key >> 6, 1 << (key & 63)   -- one bit per state keeps memory small
      local seen = visited[word] or 0
      local ok = false
      if seen & bit == 0 then
        visited[word] = seen | bit
        local op = ops[pc]
        local b = byte(s, pos)
        if op == CHAR then
          if b == args[pc] then pc, pos, ok = outs[pc], pos + 1, true end
        elseif op == SPLIT then
          sp = sp + 2
          stack[sp - 1], stack[sp] = alts[pc], pos
          pc, ok = outs[pc], true
        elseif op == CHAR2 then
          if b == args[pc] or b == args[pc] - 32 then pc, pos, ok = outs[pc], pos + 1, true end
        elseif op == SET then
          if b then
            if b < 128 then
              if args[pc][b] then pc, pos, ok = outs[pc], pos + 1, true end
            elseif alts[pc] then
              local cp, w = decode(s, pos)
              if in_ranges(alts[pc], cp) then pc, pos, ok = outs[pc], pos + w, true end
            end
          end
        elseif op == ANYNL or op == ANY then
          if b and not (b == 10 and op == ANYNL) then
            local w = b < 128 and 1 or select(2, decode(s, pos))
            pc, pos, ok = outs[pc], pos + w, true
          end
        elseif op == ASSERT then
          if assert_ok(args[pc], s, pos, n) then pc, ok = outs[pc], true end
        elseif op == MATCH then
          return start, pos - 1
        end
      end
      if not ok then
        if sp == 0 then break end
        pc, pos = stack[sp - 1], stack[sp]
        sp = sp - 2
      end
    end
    if start > n or prog.anchored then break end
    start = start + (byte(s, start) < 128 and 1 or select(2, decode(s, start)))
  end
  return nil
end

-- API ----------------------------------------------------------------------------------

local Regex = {}
Regex.__index = Regex
function Regex:__tostring() return "isync.regex(" .. self.pattern .. ")" end

--- Compiles a Go/RE2 pattern. Returns the compiled regex, or nil, message, "PATTERN_INVALID"
--- (also for a pattern that is not a string: patterns come from users' files).
function M.compile(pattern)
  if type(pattern) ~= "string" then
    return nil, "invalid regex: pattern must be a string, got " .. type(pattern), "PATTERN_INVALID"
  end
  local ok, res = pcall(function()
    local ast = parse(pattern)
    local prog = { op = {}, out = {}, arg = {}, alt = {} }
    prog.start = compile_node(prog, ast, emit(prog, MATCH))
    prog.anchored = anchored(ast)
    return prog
  end)
  if not ok then
    if getmetatable(res) == Err then return nil, message(pattern, res), "PATTERN_INVALID" end
    error(res, 0)                                     -- a bug, not a bad pattern
  end
  return setmetatable({ pattern = pattern, prog = res }, Regex)
end

local function check_subject(s)
  if type(s) ~= "string" then error("isync.regex: subject must be a string, got " .. type(s), 3) end
end

--- Unanchored search like Go's MatchString.
function Regex:match(s)
  check_subject(s)
  return search(self.prog, s) ~= nil
end

--- Leftmost-first match: start and end (1-based, inclusive, like string.find) or nil.
function Regex:find(s)
  check_subject(s)
  return search(self.prog, s)
end

local cache, cached = {}, 0
local CACHE_MAX = 256

--- Convenience: compile (cached) and match; raises on a bad pattern.
function M.match(pattern, s)
  local re = cache[pattern]
  if not re then
    local err
    re, err = M.compile(pattern)
    if not re then error(err, 2) end
    if cached >= CACHE_MAX then cache, cached = {}, 0 end   -- bounded: start over when full
    cache[pattern], cached = re, cached + 1
  end
  return re:match(s)
end

--- Escapes every metacharacter, like Go's regexp.QuoteMeta.
function M.quote(s)
  return (s:gsub("[\\%.%+%*%?%(%)|%[%]{}%^%$]", "\\%0"))
end

return M
