-- isync.regex against Go regexp semantics (unanchored MatchString, leftmost-first find).
local regex = require "isync.regex"

-- { pattern, input, expected MatchString result }
local MATCH_CASES = {
  -- semver-ish tag filters
  { [=[^v?\d+\.\d+\.\d+$]=], "v1.2.3", true },
  { [=[^v?\d+\.\d+\.\d+$]=], "1.22.10", true },
  { [=[^v?\d+\.\d+\.\d+$]=], "1.2", false },
  { [=[^v?\d+\.\d+\.\d+$]=], "v1.2.3-rc1", false },
  { [=[^v?\d+\.\d+\.\d+$]=], "vv1.2.3", false },
  { [=[^1\.2[0-9]\.]=], "1.25.3", true },
  { [=[^1\.2[0-9]\.]=], "1.3.0", false },
  { [=[^1\.2[0-9]\.]=], "1.2x.0", false },
  { [=[-alpha|-beta|-rc]=], "1.0.0-rc1", true },
  { [=[-alpha|-beta|-rc]=], "1.0.0-beta", true },
  { [=[-alpha|-beta|-rc]=], "1.0.0", false },
  { [=[(?i)LATEST]=], "latest", true },
  { [=[(?i)LATEST]=], "LaTeSt-debian", true },
  { [=[LATEST]=], "latest", false },
  { [=[\d{2,3}]=], "v1", false },
  { [=[\d{2,3}]=], "v12", true },
  { [=[^\d{2,3}$]=], "1234", false },
  { [=[^[a-f0-9]{7,40}$]=], "abc1234", true },
  { [=[^[a-f0-9]{7,40}$]=], "abc123", false },
  { [=[^[a-f0-9]{7,40}$]=], "ABC1234", false },
  { [=[^[a-f0-9]{7,40}$]=], string.rep("a", 40), true },
  { [=[^[a-f0-9]{7,40}$]=], string.rep("a", 41), false },
  { [=[^release-(?:1\.\d+|2\.0)$]=], "release-1.27", true },
  { [=[^release-(?:1\.\d+|2\.0)$]=], "release-2.0", true },
  { [=[^release-(?:1\.\d+|2\.0)$]=], "release-2.1", false },
  { [=[^release-(?:1\.\d+|2\.0)$]=], "release-1.", false },
  { [=[[[:digit:]]+]=], "abc", false },
  { [=[[[:digit:]]+]=], "ab1", true },
  { [=[^[[:alpha:]][[:alnum:]_.-]*$]=], "alpine3.19", true },
  { [=[^[[:alpha:]][[:alnum:]_.-]*$]=], "3.19", false },
  { [=[[[:upper:]]]=], "abc", false },
  { [=[[[:lower:]]]=], "ABc", true },
  { [=[^[[:xdigit:]]+$]=], "DEADbeef", true },
  { [=[[[:punct:]]]=], "v1_2", true },
  { [=[[[:space:]]]=], "a\vb", true },
  { [=[^[[:word:]]+$]=], "a_b9", true },
  { [=[[[:^digit:]]]=], "123", false },
  { [=[\bv1\b]=], "v1", true },
  { [=[\bv1\b]=], "app-v1-x", true },
  { [=[\bv1\b]=], "v10", false },
  { [=[\Bv1]=], "xv1", true },
  { [=[\Bv1]=], "-v1", false },
  -- unanchored by default
  { [=[a+]=], "bab", true },
  { [=[a+]=], "bbb", false },
  { "", "anything", true },
  { "", "", true },
  { "$", "abc", true },
  { "^", "", true },
  { "^$", "", true },
  { "^$", "x", false },
  { [=[x*]=], "abc", true },
  -- dot and newlines
  { ".", "\n", false },
  { "(?s).", "\n", true },
  { "(?s:.)", "\n", true },
  { "a.c", "abc", true },
  { "^.$", "\xc3\xa9", true },                  -- one rune, as in Go
  { "[^a]", "\n", true },                         -- Go's Perl flags include ClassNL
  -- anchors
  { "(?m)^b", "a\nb", true },
  { "^b", "a\nb", false },
  { "(?m)a$", "a\nb", true },
  { "a$", "a\nb", false },
  { "a$", "a\n", false },                         -- Go's $ is \z unless (?m)
  { [=[\Aab]=], "ab", true },
  { [=[a\z]=], "ba", true },
  { [=[a\z]=], "a\n", false },
  -- case folding
  { "(?i)[a-c]", "B", true },
  { "[a-c]", "B", false },
  { "(?i)[^a]", "A", false },
  { "(?i)[[:upper:]]", "a", true },
  { "(?i)a(?-i)b", "Ab", true },
  { "(?i)a(?-i)b", "AB", false },
  { "(?i:a)b", "Ab", true },
  { "(?i:a)b", "AB", false },
  { "x(?i)y|z", "xZ", true },                    -- (?i) lasts to the end of the group
  { "(x(?i)y)z", "xYZ", false },                 -- ... and not beyond it
  { "(?is)A.B", "a\nb", true },
  -- perl classes, inside and outside brackets
  { [=[\d]=], "x", false },
  { [=[\D]=], "1", false },
  { [=[\w+]=], "--", false },
  { [=[\W]=], "ab_9", false },
  { [=[\s]=], "a b", true },
  { [=[\s]=], "a\vb", false },                      -- Go's \s has no \v
  { [=[\S]=], " \t", false },
  { [=[^[\d.]+$]=], "1.2.3", true },
  { [=[^[^\d]+$]=], "latest", true },
  { [=[[\W]]=], "abc", false },
  -- bracket edge cases
  { "[]a]", "]", true },
  { "[^]a]", "]", false },
  { "[^]a]", "b", true },
  { "[a-]", "-", true },
  { "[-a]", "-", true },
  { [=[[a\-z]]=], "-", true },
  { [=[[a\-z]]=], "b", false },
  { "[a-c-e]", "-", true },
  { "[[:a]", ":", true },                         -- no ":]" so "[" is a plain member
  { [=[[\]]]=], "]", true },
  -- escapes
  { [=[\x41]=], "A", true },
  { [=[\x{41}\x{42}]=], "AB", true },
  { [=[\101]=], "A", true },                        -- octal
  { [=[\t\n]=], "\t\n", true },
  { [=[a\/b]=], "a/b", true },
  { [=[\Q1.2*\E]=], "1.2*", true },
  { [=[\Q1.2*\E]=], "1x2", false },
  { [=[\.]=], "a", false },
  { [=[\_]=], "_", true },
  -- groups, alternation, repetition
  { "(?P<major>\\d+)\\.(?<minor>\\d+)", "v1.22", true },
  { "a|", "xyz", true },
  { "|", "", true },
  { "()", "", true },
  { "(a|b)c", "bc", true },
  { "a{2}", "a", false },
  { "a{2}", "aa", true },
  { "^a{2,}$", "aaaaa", true },
  { "^a{2,}$", "a", false },
  { "^a{0}$", "", true },
  { "^a{1000}$", string.rep("a", 1000), true },
  { "^((ab){2}){3}$", string.rep("ab", 6), true },
  { "^((ab){2}){3}$", string.rep("ab", 5), false },
  { "x{,3}", "x{,3}", true },                     -- not a repeat: literal, as in Go
  { "x{a}", "x{a}", true },
  { "a{01}", "a{01}", true },
  { "{", "{", true },
  { "a}", "a}", true },
  { "]", "]", true },
  { "^*a", "a", true },                           -- Go allows repeating an assertion
  { "(a*)*", "b", true },
  { "(a*)+$", "b", true },
  { "(?:a+|b)*c", "ababc", true },
  { "\xc3\xa9+", "\xc3\xa9\xc3\xa9", true },      -- é+ repeats the whole rune
}

-- { pattern, input, start, end } (string.find positions) or { pattern, input } for no match
local FIND_CASES = {
  { "(a|ab)(c|bcd)(d*)", "abcd", 1, 4 },
  { "a+", "baaab", 2, 4 },
  { "a+?", "baaab", 2, 2 },
  { "a*?b", "aab", 1, 3 },
  { "(?U)a+", "aaa", 1, 1 },
  { "(?U)a+?", "aaa", 1, 3 },
  { "(?U)a{1,3}", "aaa", 1, 1 },
  { "a{2,3}", "aaaa", 1, 3 },
  { "a{2,3}?", "aaaa", 1, 2 },
  { "a{2,}?", "aaaa", 1, 2 },
  { "a??b", "ab", 1, 2 },
  { "a??", "ab", 1, 0 },
  { "a|ab", "ab", 1, 1 },                          -- left branch wins, not the longest
  { "ab|a", "ab", 1, 2 },
  { "x*", "abc", 1, 0 },
  { "", "abc", 1, 0 },
  { "$", "abc", 4, 3 },
  { [=[\b]=], "  ab", 3, 2 },
  { "(?m)^b", "a\nb", 3, 3 },
  { "(?m)$", "a\nb", 2, 1 },
  { "[[:^digit:]]", "1a", 2, 2 },
  { "<.*>", "<a><b>", 1, 6 },
  { "<.*?>", "<a><b>", 1, 3 },
  { "(|a)*", "aa", 1, 0 },                         -- (x+)? compilation of nullable x* (Go issue 46123)
  { "(|a)+", "aa", 1, 0 },
  { "(a|)*", "aa", 1, 2 },
  { "(a*)*b", "aab", 1, 3 },
  { "\xc3\xa9+", "x\xc3\xa9\xc3\xa9y", 2, 5 },
  { ".$", "x\xc3\xa9", 2, 3 },
  { [=[\d+]=], "v1.22", 2, 2 },
  { "b", "aaa" },
  { "^b", "ab" },
}

-- { pattern, text the message must contain }
local ERROR_CASES = {
  { "v(1", 'invalid regex "v(1": missing closing )' },
  { "a)", "unexpected )" },
  { "^(?!", "lookaround assertions are not supported" },
  { "^(?!rc)", "invalid or unsupported Perl syntax: `(?!`" },
  { "(?=x)", "invalid or unsupported Perl syntax: `(?=`" },
  { "(?<=x)y", "lookaround" },
  { "(?<!x)y", "lookaround" },
  { [=[(a)\1]=], "invalid escape sequence: `\\1` (backreferences are not supported)" },
  { [=[\q]=], "invalid escape sequence: `\\q`" },
  { [=[\8]=], "invalid escape sequence: `\\8`" },
  { [=[\x4]=], "invalid escape sequence" },
  { [=[\x{}]=], "invalid escape sequence" },
  { [=[\x{110000}]=], "invalid escape sequence" },
  { [=[[\b]]=], "invalid escape sequence: `\\b`" },
  { [=[\C]=], "invalid escape sequence" },
  { "a\\", "trailing backslash at end of expression" },
  { "*a", "missing argument to repetition operator: `*`" },
  { "+", "missing argument to repetition operator: `+`" },
  { "a|?", "missing argument to repetition operator: `?`" },
  { "(*)", "missing argument to repetition operator: `*`" },
  { "{2}", "missing argument to repetition operator: `{2}`" },
  { "a**", "invalid nested repetition operator: `**`" },
  { "a++", "invalid nested repetition operator: `++`" },
  { "a*?+", "invalid nested repetition operator: `*?+`" },
  { "a{2}{3}", "invalid nested repetition operator: `{2}{3}`" },
  { "a{1001}", "invalid repeat count: `{1001}`" },
  { "a{2,1001}", "invalid repeat count" },
  { "a{3,2}", "invalid repeat count: `{3,2}`" },
  { "(a{10}){101}", "invalid repeat count: `{101}`" },
  { "a{99999999999}", "invalid repeat count" },
  { "[z-a]", "invalid character class range: `z-a`" },
  { "[a", "missing closing ]: `[a`" },
  { "[]", "missing closing ]" },
  { "[^]", "missing closing ]" },
  { "[[:alpha:]", "missing closing ]" },
  { "[[:foo:]]", "invalid character class range: `[:foo:]`" },
  { [=[\pL]=], "Unicode classes" },
  { [=[[\p{Greek}]]=], "Unicode classes" },
  { "(?i", "invalid or unsupported Perl syntax: `(?i`" },
  { "(?z)", "invalid or unsupported Perl syntax: `(?z`" },
  { "(?-)", "invalid or unsupported Perl syntax: `(?-)`" },
  { "(?i-)", "invalid or unsupported Perl syntax" },
  { "(?P<na-me>x)", "invalid named capture: `(?P<na-me>`" },
  { "(?P<>x)", "invalid named capture" },
  { "(?P<name", "invalid named capture" },
  { "(?#comment)", "invalid or unsupported Perl syntax" },
  { "a\xff", "invalid UTF-8" },
  { string.rep("(", 2000) .. string.rep(")", 2000), "expression nests too deeply" },
}

local function show(s) return (string.format("%q", s):gsub("\\\n", "\\n")) end

describe("isync.regex", function()
  describe("matches like Go's MatchString", function()
    for _, c in ipairs(MATCH_CASES) do
      local pattern, input, want = c[1], c[2], c[3]
      it(show(pattern) .. " ~ " .. show(input) .. " is " .. tostring(want), function()
        local re, err = regex.compile(pattern)
        assert.is_nil(err)
        assert.equal(want, re:match(input))
        assert.equal(want, regex.match(pattern, input))
      end)
    end
  end)

  describe("finds the leftmost-first match", function()
    for _, c in ipairs(FIND_CASES) do
      local pattern, input, s, e = c[1], c[2], c[3], c[4]
      it(show(pattern) .. " in " .. show(input), function()
        local re = assert(regex.compile(pattern))
        local gs, ge = re:find(input)
        assert.same({ s, e }, { gs, ge })
      end)
    end
  end)

  describe("rejects what Go rejects", function()
    for _, c in ipairs(ERROR_CASES) do
      local pattern, want = c[1], c[2]
      it(show(pattern:sub(1, 20)), function()
        local re, err = regex.compile(pattern)
        assert.is_nil(re)
        assert.is_string(err)
        assert.truthy(err:find(want, 1, true), err)
        assert.truthy(err:find("invalid regex ", 1, true), err)
      end)
    end

    it("names the pattern in the message, escaping control characters", function()
      local _, err = regex.compile("a\n(")
      assert.equal('invalid regex "a\\x0a(": missing closing )', err)
    end)

    it("rejects a non-string pattern and subject", function()
      local re, err = regex.compile(42)
      assert.is_nil(re)
      assert.matches("must be a string", err)
      assert.has_error(function() assert(regex.compile("a")):match(nil) end)
    end)

    it("accepts deep but legal nesting and the largest legal counts", function()
      assert.truthy(regex.compile(string.rep("(", 500) .. "a" .. string.rep(")", 500)))
      assert.truthy(regex.compile("((a{10}){10}){10}"))
      assert.is_nil(regex.compile("((a{10}){10}){11}"))
      assert.truthy(regex.compile("(a{1000})*"))
      assert.truthy(regex.compile("a{0,1000}"))
    end)
  end)

  describe("regex.match", function()
    it("raises on a bad pattern, naming it", function()
      local ok, err = pcall(regex.match, "v(1", "v1")
      assert.is_false(ok)
      assert.truthy(err:find('invalid regex "v(1": missing closing )', 1, true), err)
    end)

    it("keeps working past the cache bound", function()
      for i = 1, 600 do
        assert.is_true(regex.match("^t" .. i .. "$", "t" .. i))
        assert.is_false(regex.match("^t" .. i .. "$", "t" .. i .. "x"))
      end
    end)
  end)

  describe("never blows up", function()
    local function timed(pattern, input, want)
      local t0 = os.clock()
      local re = assert(regex.compile(pattern))
      local got = re:match(input)
      local dt = os.clock() - t0
      assert.equal(want, got)
      assert.is_true(dt < 1, pattern .. " took " .. dt .. " s")
    end

    it("(a*)*b against 30 a's", function() timed("(a*)*b", string.rep("a", 30), false) end)
    it("(a|aa)*c against 40 a's", function() timed("(a|aa)*c", string.rep("a", 40), false) end)
    it("(a+)+$ against a's and a final b", function() timed("^(a+)+$", string.rep("a", 128) .. "b", false) end)
    it("(x+x+)+y against 2000 x's", function() timed("(x+x+)+y", string.rep("x", 2000), false) end)
    it("(.*a){20} against 128 a's then b", function()
      timed("^(.*a){20}$", string.rep("a", 128) .. "b", false)
    end)
    it("(()*)* and friends terminate", function()
      timed("(()*)*x", string.rep("y", 100), false)
      timed("(a?)*(a?){10}b", string.rep("a", 60), false)
      timed("(\\b|\\B)*$", "abc def", true)
    end)
  end)

  describe("quote", function()
    it("escapes exactly Go's QuoteMeta set", function()
      assert.equal([[1\.2\.3]], regex.quote("1.2.3"))
      assert.equal([[\\\.\+\*\?\(\)\|\[\]\{\}\^\$]], regex.quote([[\.+*?()|[]{}^$]]))
      assert.equal("a-b_c/d:e", regex.quote("a-b_c/d:e"))
    end)

    it("round-trips 200 random strings", function()
      math.randomseed(20240601)
      local extra = { "\xc3\xa9", "\xe6\x97\xa5", "\n", "\0" }
      for _ = 1, 200 do
        local parts = {}
        for k = 1, math.random(0, 24) do
          if math.random(10) == 1 then
            parts[k] = extra[math.random(#extra)]
          else
            parts[k] = string.char(math.random(32, 126))
          end
        end
        local s = table.concat(parts)
        local q = regex.quote(s)
        assert.is_true(regex.match(q, s), "quote failed for " .. show(s))
        assert.is_true(regex.match("^" .. q .. "$", s), "anchored quote failed for " .. show(s))
        local fs, fe = assert(regex.compile(q)):find("<" .. s .. ">")
        if s ~= "" then assert.same({ 2, #s + 1 }, { fs, fe }) end
      end
    end)
  end)
end)
