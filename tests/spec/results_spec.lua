-- One result shape: whatever can fail returns nil, message, CODE[, info] with CODE from
-- isync.code_info; misuse (a wrong argument type, an unknown option string) raises.
-- No registry: fake ones play the network.
local isync = require "isync"
local core = require "isync.core"

-- Asserts fn's results are a failure with the given code (a code of the table) and a
-- one-line message.
local function fails_with(code, ...)
  local v, msg, c = ...
  assert.is_nil(v)
  assert.equal("string", type(msg))
  assert.is_nil(msg:find("\n"), msg)
  assert.equal(code, c, msg)
  assert.truthy(isync.code_info[c], c)
  return msg
end

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

describe("one result shape", function()
  it("parse_ref: nil, message, REF_INVALID (a usage code)", function()
    local msg = fails_with("REF_INVALID", isync.parse_ref("Bad/Name"))
    assert.matches("Bad/Name", msg)
    assert.equal("usage", isync.code_info.REF_INVALID.class)
    fails_with("REF_INVALID", core.parse_ref(""))
  end)

  it("digest: an algorithm name, anything else is misuse", function()
    assert.equal(isync.digest("abc"), isync.digest("abc", "sha256"))
    assert.matches("^sha512:" .. ("%x"):rep(128) .. "$", isync.digest("abc", "sha512"))
    local ok, err = pcall(isync.digest, "abc", "md5")
    assert.is_false(ok)
    assert.matches("bad argument #2 .*invalid option 'md5'", err)
    assert.is_false(pcall(isync.digest, {}))
  end)

  it("list_dir: nil, message, IO_ERROR", function()
    local msg = fails_with("IO_ERROR", core.list_dir("/nonexistent-isync-dir"))
    assert.matches("/nonexistent%-isync%-dir", msg)
  end)

  it("regex and semver ranges: nil, message, PATTERN_INVALID", function()
    fails_with("PATTERN_INVALID", isync.regex.compile("a("))
    fails_with("PATTERN_INVALID", isync.regex.compile(42))
    fails_with("PATTERN_INVALID", isync.semver.range(">>1"))
  end)

  it("manifests and platform filters: BAD_MANIFEST, PLATFORM", function()
    local manifest = require "isync.manifest"
    local platform = require "isync.platform"
    fails_with("BAD_MANIFEST", manifest.decode("[1]"))
    fails_with("BAD_MANIFEST", manifest.decode("{not json"))
    fails_with("BAD_MANIFEST", manifest.kind("text/plain", {}))
    fails_with("BAD_MANIFEST", manifest.blobs({ layers = { { digest = "nope" } } }))
    fails_with("BAD_MANIFEST", manifest.children({ manifests = "nope" }))
    local f = platform.filter({ "linux" }, { "amd64" })
    fails_with("BAD_MANIFEST", platform.filter_index(f, "{}"))
    local index = '{"manifests":[{"digest":"sha256:' .. ("a"):rep(64) .. '","platform":{"os":"windows","architecture":"amd64"}}]}'
    fails_with("PLATFORM", platform.filter_index(f, index))
  end)

  it("report files: nil, message, IO_ERROR", function()
    local report = require("isync.report").new(false)
    local msg = fails_with("IO_ERROR", report:write_json("/nonexistent-isync-dir/report.json"))
    assert.matches("cannot write /nonexistent%-isync%-dir/report.json", msg)
    fails_with("IO_ERROR", report:write_images("/nonexistent-isync-dir/out.yaml", { failed = true }))
  end)

  it("referrers: BAD_MANIFEST for a non-index, the registry's code and info passed through", function()
    local referrers = require "isync.referrers"
    fails_with("BAD_MANIFEST", referrers.descriptors("{}", "here"))
    fails_with("BAD_MANIFEST", referrers.join({ "[]" }, "here"))
    local info = { status = 429, retry_after = 7 }
    local reg = { name = "fake", referrers = function() return nil, "slow down", "TOOMANYREQUESTS", info end }
    local v, msg, code, got = referrers.list(reg, "a/b", "sha256:" .. ("c"):rep(64))
    fails_with("TOOMANYREQUESTS", v, msg, code)
    assert.equal(info, got)
    reg.referrers = function() return "not json" end
    fails_with("BAD_MANIFEST", referrers.list(reg, "a/b", "sha256:" .. ("c"):rep(64)))
  end)

  it("referrers.tag: a value that is no digest is misuse, reported at the caller's line", function()
    local referrers = require "isync.referrers"
    local ok, err = pcall(referrers.tag, nil)
    assert.is_false(ok)
    assert.matches("results_spec.lua:%d+: isync.referrers.tag: a digest", err)
    assert.is_false(pcall(referrers.tag, "nocolon"))
  end)

  it("put_manifest without bytes is misuse, reported at the caller's line", function()
    local reg = setmetatable({ name = "fake" }, isync.Registry)
    local ok, err = pcall(reg.put_manifest, reg, "a/b", "v1", nil, "x/y")
    assert.is_false(ok)
    assert.matches("results_spec.lua:%d+: registry:put_manifest", err)
  end)

  it("ledger: misuse raises, the file's failures return nil, message, LEDGER", function()
    local ledger = require "isync.ledger"
    local ok, err = pcall(ledger.open, 42)
    assert.is_false(ok)
    assert.matches("results_spec.lua:%d+: isync.ledger: the path must be a string", err)

    local dir = tmpdir()
    local file = assert(core.ledger_open(dir .. "/raw"))
    ok, err = pcall(file.compact, file, { "a", {} })
    assert.is_false(ok)
    assert.matches("bad argument #2 .*record 2 is not a string", err)
    assert.is_false(pcall(file.compact, file, "nope"))
    assert.is_false(pcall(file.append, file, {}))
    file:close()
    ok, err = pcall(file.append, file, "x")
    assert.is_false(ok)
    assert.matches("bad argument #1 .*ledger is closed", err)

    local l = assert(ledger.open(dir .. "/ledger"))
    assert.is_true(l:close())
    assert.is_true(l:close())          -- again: nothing to do
    ok, err = pcall(l.sync, l)
    assert.is_false(ok)
    assert.matches("results_spec.lua:%d+: isync.ledger: the ledger .* is closed", err)
    assert.is_false(pcall(l.add_blob, l, "b", "r", "sha256:1"))

    -- close reports the last sync's failure (the file is closed either way)
    l = assert(ledger.open(dir .. "/ledger"))
    local real = l.file
    l.file = setmetatable({ sync = function() return nil, "disk full", "LEDGER" end, appended = function() return 0 end,
                            close = function() real:close() end }, {})
    fails_with("LEDGER", l:close())
    assert.is_nil(l.file)
    assert(ledger.open(dir .. "/ledger")):close()   -- the lock was released
    os.execute("rm -rf " .. dir)
  end)
end)
