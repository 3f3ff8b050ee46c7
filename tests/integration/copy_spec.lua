-- Copying whole images between real registries (plain HTTP, TLS, htpasswd Basic, Bearer
-- tokens): afterwards the independent verifier must find every destination manifest
-- byte-identical to the source's and every blob present.
local isync = require "isync"
local H = require "helpers"

local KINDS = {
  { "docker single", { "single", "--layers", "3", "--layer-size", "200K" } },
  { "oci single", { "single", "--oci", "--layers", "2", "--layer-size", "100K" } },
  { "docker list", { "index", "--platforms", "linux/amd64,linux/arm64", "--shared-base", "--layer-size", "50K" } },
  { "oci index", { "index", "--oci", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7", "--layer-size", "50K" } },
  { "nested index", { "nested", "--layer-size", "30K" } },
  { "unknown artifact", { "artifact", "--config-type", "application/vnd.example.unknown.config.v1+json",
      "--artifact-type", "application/vnd.example.sbom.v1" } },
  { "empty-config artifact", { "artifact", "--config-type", "application/vnd.oci.empty.v1+json",
      "--layer-type", "application/vnd.cncf.helm.chart.content.v1.tar+gzip" } },
}

local PAIRS = {
  { "plain", "plain2" },
  { "plain", "tls" },
  { "tls", "basic" },
  { "basic", "token" },
  { "token", "plain2" },
}

local function push(kind, spec, repo, tag)
  local args = { spec[1], repo, tag }
  for i = 2, #spec do args[#args + 1] = spec[i] end
  return H.mkimage(kind, table.unpack(args))
end

describe("isync.copy between real registries", function()
  for _, pair in ipairs(PAIRS) do
    local sk, dk = pair[1], pair[2]
    it(("copies every image kind %s -> %s with identical digests"):format(sk, dk), function()
      local src, dst = H.registry(sk), H.registry(dk)
      local pushed = {}
      for i, k in ipairs(KINDS) do
        local repo = H.unique("copy/" .. sk .. "-" .. dk .. "-k" .. i .. "-")
        pushed[i] = { name = k[1], repo = repo, info = push(sk, k[2], repo, "t1") }
      end
      -- all images at once, as a policy would run them
      local results = isync.run(function()
        return isync.map(pushed, 4, function(p)
          local res, err, code = isync.copy(src, p.repo, "t1", dst, "mirror/" .. p.repo, "t1")
          return { res = res, err = err, code = code }
        end)
      end)
      for i, p in ipairs(pushed) do
        local r = results[i]
        assert(r.res, p.name .. ": " .. tostring(r.err) .. " (" .. tostring(r.code) .. ")")
        assert.equal("copied", r.res.status, p.name)
        assert.equal(p.info.digest, r.res.digest, p.name)
        local ok, out = H.verify(sk, p.repo, "t1", dk, "mirror/" .. p.repo, "t1")
        assert(ok, p.name .. ": " .. out)
      end
    end)
  end

  it("skips an unchanged image with two HEADs and copies again with force", function()
    local src, dst = H.registry("plain"), H.registry("plain2")
    local repo = H.unique("copy/skip-")
    local info = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "10K")
    local r1 = assert(isync.copy(src, repo, "v1", dst, repo, "v1"))
    assert.equal("copied", r1.status)
    assert.equal(2, r1.stats.blobs_copied + r1.stats.blobs_mounted)
    local r2 = assert(isync.copy(src, repo, "v1", dst, repo, "v1"))
    assert.equal("skipped", r2.status)
    assert.equal(info.digest, r2.digest)
    local r3 = assert(isync.copy(src, repo, "v1", dst, repo, "v1", { force = true }))
    assert.equal("copied", r3.status)
    assert.equal(0, r3.stats.blobs_copied)
    assert.equal(2, r3.stats.blobs_skipped)
  end)

  it("copies by digest and renames tags", function()
    local src, dst = H.registry("tls"), H.registry("plain2")
    local repo = H.unique("copy/digest-")
    local info = H.mkimage("tls", "index", repo, "multi", "--platforms", "linux/amd64,linux/s390x")
    local r = assert(isync.copy(src, repo, info.digest, dst, "renamed/" .. repo, "renamed-tag"))
    assert.equal(info.digest, r.digest)
    local ok, out = H.verify("tls", repo, "multi", "plain2", "renamed/" .. repo, "renamed-tag")
    assert(ok, out)
    local r2 = assert(isync.copy(src, repo, info.digest, dst, "bydigest/" .. repo))
    assert.equal(info.digest, r2.digest)
    assert.same(false, dst:head("bydigest/" .. repo, "multi"))   -- pushed by digest only: no tag
    assert.is_truthy(dst:head("bydigest/" .. repo, info.digest))
  end)

  it("mounts blobs from another repository of the same registry", function()
    local reg = H.registry("token")
    local repo = H.unique("copy/mount-")
    H.mkimage("token", "single", repo, "v1", "--layers", "2", "--layer-size", "20K")
    local r = assert(isync.copy(reg, repo, "v1", reg, repo .. "-copy", "v1"))
    assert.equal(3, r.stats.blobs_mounted)
    assert.equal(0, r.stats.blobs_copied)
    assert(H.verify("token", repo, "v1", "token", repo .. "-copy", "v1"))
    -- the mounts used one token holding both repositories' scopes
    local both = false
    for l in io.lines(H.env("ISYNC_T_TOKEN_LOG")) do
      if l:find("scope=repository:" .. repo .. "-copy:pull,push", 1, true)
        and l:find("scope=repository:" .. repo .. ":pull", 1, true) then both = true end
    end
    assert.is_true(both)
    -- and from a repository where this process saw the blob: a second destination repo
    local src2 = H.registry("plain")
    local repo2 = H.unique("copy/mount2-")
    H.mkimage("plain", "single", repo2, "v1", "--layers", "1", "--layer-size", "20K")
    local a = assert(isync.copy(src2, repo2, "v1", reg, "m/" .. repo2 .. "-a", "v1"))
    assert.equal(2, a.stats.blobs_copied)
    local b = assert(isync.copy(src2, repo2, "v1", reg, "m/" .. repo2 .. "-b", "v1"))
    assert.equal(2, b.stats.blobs_mounted)
    assert.equal(0, b.stats.blobs_copied)
  end)

  it("moves a shared blob once when images that share it are copied together", function()
    local src, dst = H.registry("plain"), H.registry("plain2")
    local repo = H.unique("copy/shared-")
    H.mkimage("plain", "index", repo, "v1", "--platforms", "linux/amd64,linux/arm64,linux/ppc64le", "--shared-base")
    local r = assert(isync.copy(src, repo, "v1", dst, repo, "v1"))
    -- 3 configs + 3 own layers + 1 shared base: the base is copied once, found twice
    assert.equal(7, r.stats.blobs_copied)
    assert.equal(2, r.stats.blobs_skipped)
  end)

  it("fails a missing tag with MANIFEST_UNKNOWN and writes nothing", function()
    local src, dst = H.registry("plain"), H.registry("plain2")
    local repo = H.unique("copy/missing-")
    H.mkimage("plain", "single", repo, "v1", "--layer-size", "1K")
    local r, err, code = isync.copy(src, repo, "nope", dst, repo, "nope")
    assert.is_nil(r)
    assert.equal("MANIFEST_UNKNOWN", code)
    assert.truthy(err:find(repo, 1, true), err)
    assert.same({}, dst:tags(repo, { missing_ok = true }))
  end)
end)
