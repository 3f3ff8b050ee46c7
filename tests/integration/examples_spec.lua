-- The example policies in scripts/, each run by the isync host against real registries;
-- the destination must be what the policy describes.
local isync = require "isync"
local H = require "helpers"

local function tags_of(kind, repo)
  local t = assert(H.registry(kind):tags(repo, { missing_ok = true }))
  table.sort(t)
  return t
end

local function run(script, args, env)
  return H.isync(H.q(H.root .. "/scripts/" .. script) .. " " .. args, env)
end

-- An image whose config says it was created at `created`, pushed with isync itself.
local function push_dated(reg, repo, tag, created)
  local cfg = ('{"architecture":"amd64","os":"linux","created":"%s","rootfs":{"type":"layers","diff_ids":[]}}'):format(created)
  local cd = assert(reg:put_blob(repo, cfg))
  local m = ('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":' ..
    '{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[]}'):format(cd, #cfg)
  assert(reg:put_manifest(repo, tag, m, "application/vnd.oci.image.manifest.v1+json"))
end

describe("example policies", function()
  local P, P2
  setup(function() P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2") end)

  it("latest-semver.lua: the latest 2 minor lines of two repositories, renamed", function()
    local a, b = H.unique("ex/semver-a-"), H.unique("ex/semver-b-")
    local src = H.registry("plain")
    local seedimg = H.mkimage("plain", "single", a, "seed", "--layers", "1", "--layer-size", "1K")
    local m = assert(src:manifest(a, "seed"))
    for _, t in ipairs { "1.19.0", "1.19.4", "v1.20.0", "v1.20.2", "1.21.0-rc.1", "latest" } do
      assert(src:put_manifest(a, t, m.bytes, m.media_type))
    end
    H.mkimage("plain", "single", b, "2.0.0", "--layers", "1", "--layer-size", "1K")
    local mb = assert(src:manifest(b, "2.0.0"))
    assert(src:put_manifest(b, "2.1.3", mb.bytes, mb.media_type))
    assert(src:put_manifest(b, "3.0.0", mb.bytes, mb.media_type))
    local ns = H.unique("ours")
    local ok, out = run("latest-semver.lua", ("--from %s --to %s --plain-http --namespace %s --n 2 %s %s"):format(
      P, P2, ns, a, b))
    assert(ok, out)
    assert.same({ "1.19.4", "v1.20.2" }, tags_of("plain2", ns .. "/" .. isync.rename.base(a)))
    assert.same({ "2.1.3", "3.0.0" }, tags_of("plain2", ns .. "/" .. isync.rename.base(b)))
    assert.truthy(seedimg)
  end)

  it("rename-org.lua: a new organisation name and at most two path levels", function()
    local org = H.unique("teama")
    local repo = org .. "/apps/web/frontend"
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local new = H.unique("acme")
    local ok, out = run("rename-org.lua", ("--from %s --to %s --plain-http --org %s --new-org %s --levels 2 %s"):format(
      P, P2, org, new, repo))
    assert(ok, out)
    assert.same({ "v1" }, tags_of("plain2", new .. "/apps-web-frontend"))
    assert(H.verify("plain", repo, "v1", "plain2", new .. "/apps-web-frontend", "v1"))
    -- a rename to an invalid name is refused with the name in the message, before any copy
    ok, out = run("rename-org.lua", ("--from %s --to %s --plain-http --org %s --new-org Bad_Org --levels 2 %s"):format(
      P, P2, org, repo))
    assert.is_false(ok)
    assert.matches('invalid repository name "Bad_Org/apps/web/frontend"', out)
  end)

  it("fanout.lua: every destination gets the matching tags", function()
    local repo = H.unique("ex/fan-")
    for _, t in ipairs { "v1", "v2", "dev" } do H.mkimage("plain", "single", repo, t, "--layers", "1", "--layer-size", "1K") end
    local ok, out = run("fanout.lua", ("--from http://%s --to http://%s,https://%s --ca %s --tags '^v' %s"):format(
      P, P2, H.env("ISYNC_T_TLS"), H.q(H.env("ISYNC_T_CA")), repo))
    assert(ok, out)
    assert.matches("4 images: 4 copied, 0 skipped, 0 failed", out)
    assert.same({ "v1", "v2" }, tags_of("plain2", repo))
    assert.same({ "v1", "v2" }, tags_of("tls", repo))
  end)

  it("nightly.lua: runs twice with a ledger and a report, creating new repositories first", function()
    local dir = H.tmpdir()
    local repo = H.unique("ex/nightly-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local ok, out = run("nightly.lua", ("--from %s --to %s --plain-http --ledger %s --report %s --every 0.2 --times 2 %s"):format(
      P, P2, H.q(dir .. "/ledger"), H.q(dir .. "/report.json"), repo))
    assert(ok, out)
    local _, n = out:gsub("new repository", "")
    assert.equal(1, n)   -- the first run only: the second finds it there
    assert.matches("1 image: 1 copied", out)
    assert.matches("1 image: 0 copied, 1 skipped", out)
    local report = require("isync.json").decode(H.read(dir .. "/report.json"))
    assert.equal(1, report.skipped)
    assert.truthy(H.read(dir .. "/ledger"))
    H.rm(dir)
  end)

  it("since-date.lua: only images created since the date, from their configs", function()
    local repo = H.unique("ex/since-")
    local src = H.registry("plain")
    push_dated(src, repo, "old", "2020-05-01T10:00:00Z")
    push_dated(src, repo, "new", "2025-03-01T10:00:00.123456789Z")
    push_dated(src, repo, "newer", "2025-06-01T10:00:00+02:00")
    local ok, out = run("since-date.lua", ("--from %s --to %s --plain-http --since 2024-01-01 %s"):format(P, P2, repo))
    assert(ok, out)
    assert.matches("inspected image configs with 6 GETs", out)
    assert.same({ "new", "newer" }, tags_of("plain2", repo))
  end)

  it("the quick commands copy, list and inspect", function()
    local repo = H.unique("ex/quick-")
    local info = H.mkimage("plain", "index", repo, "v1", "--platforms", "linux/amd64,linux/arm64")
    local ok, out = H.isync(("cp --plain-http %s/%s:v1 %s/quick/%s"):format(P, repo, P2, repo))
    assert(ok, out)
    assert.matches("^copied .- " .. info.digest, out)
    ok, out = H.isync(("ls --plain-http --digests %s/quick/%s"):format(P2, repo))
    assert(ok, out)
    assert.equal("v1\t" .. info.digest .. "\n", out)
    ok, out = H.isync(("inspect --plain-http %s/quick/%s:v1"):format(P2, repo))
    assert(ok, out)
    assert.matches("digest:%s+" .. info.digest, out)
    assert.matches("platforms:%s+2", out)
    assert.matches("linux/arm64", out)
    ok, out = H.isync(("inspect --plain-http --json %s/%s@%s"):format(P, repo, info.digest))
    assert(ok, out)
    assert.equal(info.digest, require("isync.json").decode(out).digest)
    ok, out = H.isync(("cp --plain-http %s/%s:nope %s/quick/x"):format(P, repo, P2))
    assert.is_false(ok)
    assert.matches("^isync: .*MANIFEST_UNKNOWN", out)
    for _, c in ipairs { "cp", "ls", "inspect" } do
      ok, out = H.isync(c .. " --help")
      assert(ok, out)
      assert.matches("usage: isync " .. c, out)
      assert.matches("exit status:", out)
      local same
      same, out = H.isync("help " .. c)
      assert(same, out)
    end
    -- --flag=value, docker:// and --json
    ok, out = H.isync(("ls --json --plain-http docker://%s/%s"):format(P, repo))
    assert(ok, out)
    assert.truthy(require("isync.json").decode(out).tags, out)
    ok, out = H.isync(("cp --json --dst-plain-http --src-plain-http --referrers=x %s/%s:v1 %s/quick/y"):format(P, repo, P2))
    assert.is_false(ok)
    assert.matches("%-%-referrers takes no value", out)
    ok, out = H.isync(("cp --json --plain-http docker://%s/%s:v1 docker://%s/quick/y"):format(P, repo, P2))
    assert(ok, out)
    assert.equal("copied", require("isync.json").decode(out).status, out)
    ok, out = H.isync("ls --bogus x")
    assert.is_false(ok)
    assert.matches("unknown flag %-%-bogus for isync ls", out)
  end)

  it("every example script answers --help with its own description", function()
    for _, f in ipairs { "migrate", "latest-semver", "rename-org", "fanout", "nightly", "since-date" } do
      local ok, out = H.isync(H.q(H.root .. "/scripts/" .. f .. ".lua") .. " --help")
      assert(ok, f .. ": " .. out)
      assert.matches("^" .. f:gsub("%-", "%%-") .. "%.lua: ", out)
    end
  end)
end)
