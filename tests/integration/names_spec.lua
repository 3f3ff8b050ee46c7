-- Terminal escape injection: a hostile registry (tests/tools/faultproxy.py --inject-names
-- in front of a real one) lists tags and repositories carrying escape sequences. isync
-- drops names that break the name rules, says how many, and never writes a control
-- character from a registry to the terminal (listings, log lines, error lines).
local H = require "helpers"
local json = require "isync.json"
local isync = require "isync"

local EVIL = {
  tags = { "\27[2J\27[31mpwned", "v9\7", "ok\194\155x", "\27]0;title\7", ("a"):rep(129) },
  repositories = { "evil\27[31m/x", "UPPER/case" },
}

-- any C0 control but the newline, DEL, or a C1 control in UTF-8
local function control(s) return s:find("[%z\1-\9\11-\31\127]") or s:find("\194[\128-\159]") end

describe("names from a registry", function()
  local dir, proxy, repo
  setup(function()
    dir = H.tmpdir()
    repo = H.unique("names/app-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "10K")
    H.write(dir .. "/names.json", json.encode(EVIL))
    proxy = H.start_proxy("plain", dir, "proxy", "--inject-names " .. H.q(dir .. "/names.json"))
  end)
  teardown(function()
    H.stop_proxy(proxy)
    H.rm(dir)
  end)

  it("isync ls prints no escape sequence and warns how many tags it dropped", function()
    local ok, out = H.isync("ls --plain-http " .. H.q(proxy.addr .. "/" .. repo))
    assert(ok, out)
    assert.matches("fault=names", H.read(proxy.log) or "")   -- the hostile names were sent
    assert.is_nil(control(out), out)
    assert.matches("^v1\n", out:gsub("isync: warning:[^\n]*\n", ""))
    assert.matches("isync: warning: " .. proxy.addr .. "/" .. repo .. ": dropped 5 tags that break the name rules", out, 1, true)
  end)

  it("the API drops them from tag lists and the catalog, with a warning", function()
    local warnings = {}
    local saved = isync.on_warning
    isync.on_warning = function(m) warnings[#warnings + 1] = m end
    local reg = isync.registry(proxy.addr, { plain_http = true, docker_config = false })
    local tags = assert(reg:tags(repo))
    local repos = assert(reg:catalog())
    isync.on_warning = saved
    assert.same({ "v1" }, tags)
    for _, r in ipairs(repos) do assert.is_nil(control(r), r); assert.is_nil(r:find("UPPER", 1, true), r) end
    assert.equal(2, #warnings)
    -- the proxy adds 2 bad names to each page of the catalog, which other specs make long
    local dropped = tonumber(warnings[2]:match("dropped (%d+) repository names"))
    assert.truthy(dropped and dropped >= 2 and dropped % 2 == 0, warnings[2])
  end)

  it("isync inspect prints no control character from a manifest", function()
    local reg = H.registry("plain")
    local r2 = H.unique("names/art-")
    local cfg = assert(reg:put_blob(r2, "{}"))
    local bytes = json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.manifest.v1+json",
      artifactType = "application/x-\27]0;pwned\7\194\155", config = { mediaType = "application/vnd.oci.image.config.v1+json",
      digest = cfg, size = 2 }, layers = json.array() })
    assert(reg:put_manifest(r2, "v1", bytes, "application/vnd.oci.image.manifest.v1+json"))
    local ok, out = H.isync("inspect --plain-http " .. H.q(H.env("ISYNC_T_PLAIN") .. "/" .. r2 .. ":v1"))
    assert(ok, out)
    assert.matches("artifact:    application/x-?]0;pwned??", out, 1, true)
    assert.is_nil(control(out), out)
  end)

  it("an error line quoting a registry's text carries no control character", function()
    H.write(dir .. "/fail.lua", [[error("registry said: \27[31mred\27[0m \194\155 and\nmore \155[1m caf\195\169", 0)]])
    local ok, out = H.isync(H.q(dir .. "/fail.lua"))
    assert.is_false(ok)
    -- a bare 0x9b (8-bit CSI) is not UTF-8: "?" as well; real UTF-8 text stays
    assert.matches("^isync: registry said: %?%[31mred%?%[0m %? and more %?%[1m caf\195\169\n$", out)
  end)
end)
