-- The registry primitives against real registries: listing, manifests, blobs, auth.
local isync = require "isync"
local H = require "helpers"

local function count_lines(path, pattern)
  local n = 0
  for l in io.lines(path) do if l:find(pattern, 1, true) then n = n + 1 end end
  return n
end

describe("registry primitives", function()
  it("lists every tag across Link pages", function()
    local repo = H.unique("prim/tags-")
    for i = 1, 5 do H.mkimage("plain", "single", repo, "t" .. i, "--layers", "1", "--layer-size", "1K") end
    local reg = H.registry("plain")
    local all = assert(reg:tags(repo))
    table.sort(all)
    assert.same({ "t1", "t2", "t3", "t4", "t5" }, all)
    local paged = assert(reg:tags(repo, { page_size = 2 }))
    table.sort(paged)
    assert.same(all, paged)
    assert.same({}, reg:tags("prim/does-not-exist", { missing_ok = true }))
    local none, err, code = reg:tags("prim/does-not-exist")
    assert.is_nil(none)
    assert.equal("NAME_UNKNOWN", code)
    assert.matches("prim/does%-not%-exist", err)
    local repos = assert(reg:catalog({ page_size = 3 }))
    local found = false
    for _, r in ipairs(repos) do if r == repo then found = true end end
    assert.is_true(found)
  end)

  it("GETs and HEADs manifests with their raw bytes, type and digest", function()
    local repo = H.unique("prim/man-")
    local info = H.mkimage("basic", "index", repo, "v1", "--oci", "--platforms", "linux/amd64,linux/arm64")
    local reg = H.registry("basic")
    local m = assert(reg:manifest(repo, "v1"))
    assert.equal(info.digest, m.digest)
    assert.equal("application/vnd.oci.image.index.v1+json", m.media_type)
    assert.equal(isync.digest(m.bytes), m.digest)
    assert.equal(#m.bytes, m.size)
    local byd = assert(reg:manifest(repo, info.digest))
    assert.equal(m.bytes, byd.bytes)
    local h = assert(reg:head(repo, "v1"))
    assert.equal(info.digest, h.digest)
    assert.equal(#m.bytes, h.size)
    assert.same(false, reg:head(repo, "missing"))
    local none, err, code = reg:manifest(repo, "missing")
    assert.is_nil(none)
    assert.equal("MANIFEST_UNKNOWN", code)
    assert.truthy(err:find("missing", 1, true))
  end)

  -- manifest_delete is the operation added as one file and one row (src/registry/op_manifest_delete.c, ops.c)
  it("deletes a manifest by digest, behind Bearer auth", function()
    local repo = H.unique("prim/del-")
    local info = H.mkimage("token", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local reg = H.registry("token")
    assert.is_true(reg:delete_manifest(repo, info.digest))
    assert.same(false, reg:head(repo, info.digest))
    assert.same(false, reg:head(repo, "v1"))
    local ok, err, code = reg:delete_manifest(repo, info.digest)
    assert.is_nil(ok)
    assert.equal("MANIFEST_UNKNOWN", code)
    assert.truthy(err:find("DELETE manifest", 1, true))
    assert.has_error(function() reg:delete_manifest(repo, "v1") end)   -- a digest, not a tag
  end)

  it("pushes manifest bytes exactly and reports the registry's digest", function()
    local repo = H.unique("prim/put-")
    local reg = H.registry("tls")
    local cfg = '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    local cd = assert(reg:put_blob(repo, cfg))
    assert.equal(isync.digest(cfg), cd)
    local body = ('{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.manifest.v1+json",\n' ..
      '  "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "%s", "size": %d},\n' ..
      '  "layers": []\n}\n'):format(cd, #cfg)
    local d = assert(reg:put_manifest(repo, "hand", body, "application/vnd.oci.image.manifest.v1+json"))
    assert.equal(isync.digest(body), d)
    assert.equal(body, reg:manifest(repo, "hand").bytes)
    -- a manifest naming a blob the registry lacks is refused with the registry's code
    local bad = body:gsub(cd:sub(8), string.rep("0", 64))
    local r, err, code = reg:put_manifest(repo, "bad", bad, "application/vnd.oci.image.manifest.v1+json")
    assert.is_nil(r)
    assert.equal("MANIFEST_BLOB_UNKNOWN", code, err)
  end)

  it("HEADs, mounts and streams blobs, monolithic and chunked", function()
    local repo = H.unique("prim/blob-")
    local info = H.mkimage("token", "single", repo, "v1", "--layers", "1", "--layer-size", "3M")
    local layer
    for _, b in ipairs(info.blobs) do if b.size > 1000000 then layer = b end end
    local tok, plain = H.registry("token"), H.registry("plain2")
    assert.equal(layer.size, tok:blob_exists(repo, layer.digest))
    assert.same(false, plain:blob_exists(repo, layer.digest))
    -- stream across registries, one PUT, then in 1 MiB PATCH chunks with a small ring
    assert.equal(layer.size, plain:copy_blob_from(tok, repo, layer.digest, repo .. "/mono", { size = layer.size }))
    assert.equal(layer.size, plain:copy_blob_from(tok, repo, layer.digest, repo .. "/chunked",
      { chunk_size = 1024 * 1024, buffer_size = 256 * 1024 }))
    assert.equal(layer.size, plain:blob_exists(repo .. "/chunked", layer.digest))
    assert.equal(layer.size, plain:blob_exists(repo .. "/mono", layer.digest))
    -- mount: yes within one registry, a polite "no" for a blob the source lacks
    assert.is_true(plain:mount(repo .. "/mounted", layer.digest, repo .. "/mono"))
    assert.equal(layer.size, plain:blob_exists(repo .. "/mounted", layer.digest))
    assert.is_false(plain:mount(repo .. "/x", "sha256:" .. string.rep("1", 64), repo .. "/mono"))
    -- a blob the source does not have
    local n, err, code = plain:copy_blob_from(tok, repo, "sha256:" .. string.rep("2", 64), repo .. "/none")
    assert.is_nil(n)
    assert.equal("BLOB_UNKNOWN", code, err)
    -- a wrong expected size is caught before anything is committed
    local n2, err2, code2 = plain:copy_blob_from(tok, repo, layer.digest, repo .. "/badsize", { size = layer.size - 1 })
    assert.is_nil(n2)
    assert.equal("SIZE_MISMATCH", code2, err2)
    assert.same(false, plain:blob_exists(repo .. "/badsize", layer.digest))
    local small = assert(tok:blob(repo, info.blobs[1].digest))
    assert.equal(info.blobs[1].digest, isync.digest(small))
  end)

  it("keeps to max_connections without deadlock, even copying within one registry", function()
    local repo = H.unique("prim/cap-")
    local info = H.mkimage("plain", "single", repo, "v1", "--layers", "4", "--layer-size", "300K")
    local one = H.registry("plain", { max_connections = 1 })
    local other = H.registry("plain2", { max_connections = 1 })
    local moved = isync.run(function()
      return isync.map(info.blobs, 8, function(b)
        local n1 = assert(one:copy_blob_from(one, repo, b.digest, repo .. "-same", { size = b.size }))
        local n2 = assert(other:copy_blob_from(one, repo, b.digest, repo, { size = b.size }))
        return n1 + n2
      end)
    end)
    local total = 0
    for i, b in ipairs(info.blobs) do
      assert.equal(2 * b.size, moved[i])
      total = total + b.size
    end
    assert.is_true(total > 1200000)
  end)

  it("starts a copy that waits for slots on two registries when either frees up", function()
    local repo = H.unique("prim/slots-")
    local info = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4M")
    H.mkimage("plain2", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local a = H.registry("plain", { max_connections = 1 })
    local b = H.registry("plain2", { max_connections = 1 })
    local big
    for _, bl in ipairs(info.blobs) do if not big or bl.size > big.size then big = bl end end
    local bsmall = assert(b:manifest(repo, "v1"))
    local bdoc = require("isync.manifest").decode(bsmall.bytes)
    local n = isync.run(function()
      local t1 = isync.spawn(function() return b:blob(repo, bdoc.config.digest) end)
      local t2 = isync.spawn(function() return a:blob(repo, big.digest, { max_size = 8 << 20 }) end)
      local t3 = isync.spawn(function() return b:copy_blob_from(a, repo, big.digest, repo .. "-copied", { size = big.size }) end)
      isync.wait(t1)
      isync.wait(t2)
      return isync.wait(t3)
    end)
    assert.equal(big.size, n)
  end)

  it("caches Bearer tokens per scope set", function()
    local repo = H.unique("prim/tok-")
    H.mkimage("token", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local log = H.env("ISYNC_T_TOKEN_LOG")
    local before = count_lines(log, repo)
    local reg = H.registry("token")
    isync.run(function()
      isync.map({ 1, 2, 3, 4, 5, 6, 7, 8 }, 8, function() assert(reg:head(repo, "v1")); assert(reg:tags(repo)) end)
    end)
    assert.equal(1, count_lines(log, repo) - before)
  end)

  it("refuses wrong credentials with UNAUTHORIZED and never shows the password", function()
    for _, kind in ipairs { "basic", "token" } do
      local reg = H.registry(kind, { password = "wrong-password-123" })
      local ok, err, code = reg:ping()
      assert.is_nil(ok, kind)
      assert.equal("UNAUTHORIZED", code, kind .. ": " .. tostring(err))
      assert.is_nil(err:find("wrong-password-123", 1, true))
      local t, err2, code2 = reg:tags("any/repo")
      assert.is_nil(t)
      assert.equal("UNAUTHORIZED", code2, err2)
    end
    assert.is_true(H.registry("basic"):ping())
    assert.is_true(H.registry("token"):ping())
  end)

  it("checks TLS: an unknown CA fails with TLS, skip_verify connects", function()
    local addr = H.env("ISYNC_T_TLS")
    local strict = isync.registry(addr, { docker_config = false })
    local ok, err, code = strict:ping()
    assert.is_nil(ok)
    assert.equal("TLS", code, err)
    assert.is_true(isync.registry(addr, { skip_verify = true, docker_config = false }):ping())
    local http = isync.registry(addr, { plain_http = true, docker_config = false })
    assert.is_nil((http:ping()))
  end)

  it("reports an unknown host and a closed port as CONNECT", function()
    local r = isync.registry("no-such-host.invalid", { docker_config = false, connect_timeout = 3 })
    local ok, err, code = r:ping()
    assert.is_nil(ok)
    assert.equal("CONNECT", code, err)
    assert.truthy(err:find("no-such-host.invalid", 1, true))
  end)

  it("takes credentials from the docker config file", function()
    local dir = os.tmpname()
    os.remove(dir)
    os.execute("mkdir -p " .. dir)
    local f = assert(io.open(dir .. "/config.json", "w"))
    local b64 = assert(io.popen("printf '%s' \"$ISYNC_T_USER:$ISYNC_T_PASS\" | base64 -w0")):read("a")
    f:write(('{"auths":{"%s":{"auth":"%s"}}}'):format(H.env("ISYNC_T_BASIC"), b64))
    f:close()
    local script = dir .. "/ping.lua"
    f = assert(io.open(script, "w"))
    f:write(('local r = require("isync").registry(%q, {ca_file=%q}); local ok, e = r:ping(); print(ok and "PING-OK" or e)')
      :format(H.env("ISYNC_T_BASIC"), H.env("ISYNC_T_CA")))
    f:close()
    local ok, out = H.isync(H.q(script), { DOCKER_CONFIG = dir })
    assert(ok, out)
    assert.matches("PING%-OK", out)
    os.execute("rm -rf " .. dir)
  end)
end)
