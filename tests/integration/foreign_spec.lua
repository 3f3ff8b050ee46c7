-- Images with foreign / non-distributable layers (Windows base images on Docker Hub look
-- like this): the layer's blob lives at its `urls`, not in any registry. isync must push the
-- manifest byte for byte without the blob: it never asks either registry for it and never
-- fetches its URL. Here the blob exists nowhere and the URL points at a port nothing
-- listens on, so any attempt to move it fails the copy (BLOB_UNKNOWN at the source, or a
-- connection error), and the registries' access logs show every request isync made.
--
-- Distribution 2.7+ rejects every layer URL unless validation.manifests.urls.allow is set
-- (an unset list becomes "^$"; the PUT fails with 500 "invalid URL on layer" in its log), so
-- tests/tools/registry-env starts "urls" and "urls2" with `allow: [^https?://]` (as a
-- registry mirroring Windows images is configured). The stock plain2 registry serves as a
-- destination that refuses.
local isync = require "isync"
local H = require "helpers"
local json = require "isync.json"

local DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
local DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
local DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
local DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
local DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
local OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
local OCI_INDEX = "application/vnd.oci.image.index.v1+json"
local OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
local OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
local OCI_NONDIST = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
local NEVER_URL = "https://127.0.0.1:9/never-fetched.tar.gz"

-- A tiny JSON encoder that keeps the key order given (O{k1, v1, k2, v2, ...}) and indents
-- with three spaces, so the manifests are not what any re-serializer would produce.
local ORDERED = {}
local function O(kv) return setmetatable({ kv = kv }, ORDERED) end
local function A(list) return json.array(list) end
local function enc(v, depth)
  local pad, inner = ("   "):rep(depth), ("   "):rep(depth + 1)
  if getmetatable(v) == ORDERED then
    local parts = {}
    for i = 1, #v.kv, 2 do parts[#parts + 1] = inner .. json.encode(v.kv[i]) .. ": " .. enc(v.kv[i + 1], depth + 1) end
    return "{\n" .. table.concat(parts, ",\n") .. "\n" .. pad .. "}"
  elseif type(v) == "table" then
    if #v == 0 then return "[]" end
    local parts = {}
    for i, x in ipairs(v) do parts[i] = inner .. enc(x, depth + 1) end
    return "[\n" .. table.concat(parts, ",\n") .. "\n" .. pad .. "]"
  end
  return json.encode(v)
end
local function encode(doc) return enc(doc, 0) end

local seq = 0
local function random_bytes(n)
  seq = seq + 1
  local t = { ("%d-%d-%d-"):format(os.time(), seq, math.random(1, 1 << 30)) }
  for i = 2, n // 8 do t[i] = string.pack("<I8", math.random(0, math.maxinteger)) end
  return table.concat(t)
end

local function descriptor(media_type, bytes)
  return O { "mediaType", media_type, "size", #bytes, "digest", isync.digest(bytes) }
end

-- A foreign layer: the digest of bytes uploaded nowhere, a large size (as Windows base
-- layers have), and urls. Returns its descriptor and digest.
local FOREIGN_SIZE = 123456789
local function foreign_layer(media_type)
  local digest = isync.digest(random_bytes(64))
  return O { "mediaType", media_type, "size", FOREIGN_SIZE, "digest", digest, "urls", A { NEVER_URL } }, digest
end

local function put(reg, repo, bytes)
  local d, err, code = reg:put_blob(repo, bytes)
  assert(d, ("put_blob: %s (%s)"):format(tostring(err), tostring(code)))
  assert.equal(isync.digest(bytes), d)
  return d
end

local function put_manifest(reg, repo, ref, bytes, media_type)
  local d, err, code = reg:put_manifest(repo, ref, bytes, media_type)
  assert(d, ("put_manifest %s:%s: %s (%s)"):format(repo, ref, tostring(err), tostring(code)))
  assert.equal(isync.digest(bytes), d)
  return d
end

--- Pushes an image to the source registry and returns what it is made of:
--- {bytes, digest, media_type, size, blobs = {digests that must be copied}, foreign = {digests},
--- foreign_type}.
--- opts: oci (OCI types instead of Docker's), foreign_type (the foreign layer's mediaType;
--- nil for none), os / arch / os_version (for the config), ref (a tag; default: by digest).
local function push_image(reg, repo, opts)
  local oci = opts.oci
  local kv = { "architecture", opts.arch or "amd64", "os", opts.os or "windows" }
  if opts.os_version then kv[#kv + 1] = "os.version"; kv[#kv + 1] = opts.os_version end
  for _, x in ipairs { "rootfs", O { "type", "layers", "diff_ids", A {} }, "created", "2024-01-09T00:00:00Z",
    "nonce", (random_bytes(8):gsub("[^%w]", "")) } do kv[#kv + 1] = x end
  local cfg = encode(O(kv))
  local layer = random_bytes(4096)
  put(reg, repo, cfg)
  put(reg, repo, layer)
  local layers, foreign = {}, {}
  if opts.foreign_type then
    local desc, digest = foreign_layer(opts.foreign_type)
    layers[#layers + 1] = desc   -- the base layer first, as Windows images have it
    foreign[#foreign + 1] = digest
  end
  layers[#layers + 1] = descriptor(oci and OCI_LAYER or DOCKER_LAYER, layer)
  local mt = oci and OCI_MANIFEST or DOCKER_MANIFEST
  local bytes = encode(O { "schemaVersion", 2, "mediaType", mt,
    "config", descriptor(oci and OCI_CONFIG or DOCKER_CONFIG, cfg), "layers", A(layers) })
  local digest = isync.digest(bytes)
  put_manifest(reg, repo, opts.ref or digest, bytes, mt)
  return { bytes = bytes, digest = digest, media_type = mt, size = #bytes, foreign_type = opts.foreign_type,
           blobs = { isync.digest(cfg), isync.digest(layer) }, foreign = foreign }
end

--- Pushes an index of images (each from push_image) as repo:ref.
local function push_index(reg, repo, ref, children, oci)
  local list = {}
  for i, c in ipairs(children) do
    list[i] = O { "mediaType", c.image.media_type, "size", c.image.size, "digest", c.image.digest,
      "platform", O(c.platform) }
  end
  local mt = oci and OCI_INDEX or DOCKER_LIST
  local bytes = encode(O { "schemaVersion", 2, "mediaType", mt, "manifests", A(list) })
  put_manifest(reg, repo, ref, bytes, mt)
  return { bytes = bytes, digest = isync.digest(bytes), media_type = mt }
end

local function copy_ok(...)
  local r, err, code = isync.copy(...)
  assert(r, ("copy failed: %s (%s)"):format(tostring(err), tostring(code)))
  return r
end


-- Access-log marks of the registries, and how many requests since then name a digest.
local KINDS = { "urls", "urls2", "plain", "plain2" }
local function marks()
  local m = {}
  for _, k in ipairs(KINDS) do m[k] = H.log_mark(k) end
  return m
end
local function requests_naming(m, digest)
  local n = 0
  for _, k in ipairs(KINDS) do n = n + H.count(H.requests_since(k, m[k]), nil, digest) end
  return n
end

-- What must hold at the destination (urls2) after copying a tree with foreign layers from urls:
-- every manifest the same bytes and type, every normal blob present, no foreign blob.
-- verify.py (which knows nothing of foreign layers) then finds exactly the foreign blobs
-- missing and nothing else wrong.
local function check_destination(dst_repo, dst_ref, images, src_repo, src_ref)
  local dst = H.registry("urls2")
  local nforeign = 0
  for _, img in ipairs(images) do
    local m = assert(dst:manifest(dst_repo, img.digest))
    assert.equal(img.bytes, m.bytes)
    assert.equal(img.media_type, m.media_type)
    for _, d in ipairs(img.blobs) do
      assert.is_truthy(dst:blob_exists(dst_repo, d), d .. " missing at the destination")
    end
    for _, d in ipairs(img.foreign) do
      assert.is_false(dst:blob_exists(dst_repo, d))
      nforeign = nforeign + 1
    end
  end
  local ok, out = H.verify("urls", src_repo, src_ref, "urls2", dst_repo, dst_ref)
  if nforeign == 0 then
    assert(ok, out)
  else
    assert.is_false(ok, out)
    assert.matches(("^MISMATCH [^\n]* %%(%d problem%%(s%%)%%)\n"):format(nforeign), out)
    for _, img in ipairs(images) do
      for _, d in ipairs(img.foreign) do
        assert.truthy(out:find("blob " .. d .. " (" .. img.foreign_type .. ") missing at destination", 1, true), out)
      end
    end
  end
end

describe("images with foreign layers", function()
  local src, dst
  setup(function() src, dst = H.registry("urls"), H.registry("urls2") end)

  it("needs a registry that allows layer URLs: the stock one refuses them", function()
    -- the premise of this spec: "urls" takes a manifest whose foreign layer has a URL, the
    -- stock plain registry does not (if it ever does, the registry-env ones could be used)
    local repo = H.unique("foreign/premise-")
    local img = push_image(src, repo, { foreign_type = DOCKER_FOREIGN, ref = "v1" })
    local plain = H.registry("plain", { retry = false })
    for _, b in ipairs(img.blobs) do
      assert.equal(b, assert(plain:put_blob(repo, assert(src:blob(repo, b)))))
    end
    local mark = H.log_mark("plain")
    local d, err, code = plain:put_manifest(repo, "v1", img.bytes, img.media_type)
    assert.is_nil(d)
    assert.equal("SERVER_ERROR", code, err)
    local log = H.read(H.env("ISYNC_T_DIR") .. "/plain.log"):sub(mark + 1)
    assert.truthy(log:find("invalid URL on layer", 1, true), log)
  end)

  it("copies a Docker schema2 image with a foreign layer without touching the layer", function()
    local repo = H.unique("foreign/docker-")
    local img = push_image(src, repo, { foreign_type = DOCKER_FOREIGN, ref = "ltsc2019", os_version = "10.0.17763.5329" })
    -- the premise: the foreign blob is in no registry, and the source serves the image
    assert.is_false(src:blob_exists(repo, img.foreign[1]))
    assert.is_false(dst:blob_exists("mirror/" .. repo, img.foreign[1]))
    assert.equal(img.digest, assert(src:head(repo, "ltsc2019")).digest)

    local m = marks()
    local r = copy_ok(src, repo, "ltsc2019", dst, "mirror/" .. repo, "ltsc2019")
    assert.equal("copied", r.status)
    assert.equal(img.digest, r.digest)
    assert.equal(img.digest, r.source_digest)
    assert.equal(1, r.stats.blobs_foreign)
    assert.equal(2, r.stats.blobs_copied)   -- the config and the normal layer
    assert.equal(0, r.stats.blobs_mounted + r.stats.blobs_skipped)
    assert.equal(1, r.stats.manifests_pushed)
    assert.is_true(r.stats.bytes < FOREIGN_SIZE, "the foreign layer's size was counted as moved")
    -- neither registry was asked about the foreign blob (while the logs do show the normal
    -- layer fetched from urls and checked at urls2, and the manifest PUT)
    assert.equal(0, requests_naming(m, img.foreign[1]))
    assert.is_true(H.count(H.requests_since("urls", m.urls), "GET", img.blobs[2]) >= 1)
    assert.is_true(H.count(H.requests_since("urls2", m.urls2), "HEAD", img.blobs[2]) >= 1)
    assert.equal(1, H.count(H.requests_since("urls2", m.urls2), "PUT", "/manifests/ltsc2019"))

    assert.equal(img.digest, assert(dst:head("mirror/" .. repo, "ltsc2019")).digest)
    check_destination("mirror/" .. repo, "ltsc2019", { img }, repo, "ltsc2019")

    -- unchanged: two HEADs, nothing else
    m = marks()
    local r2 = copy_ok(src, repo, "ltsc2019", dst, "mirror/" .. repo, "ltsc2019")
    assert.equal("skipped", r2.status)
    assert.equal(img.digest, r2.digest)
    assert.equal(0, r2.stats.blobs_foreign)
    assert.equal(0, requests_naming(m, img.foreign[1]))
    assert.equal(0, H.count(H.requests_since("urls2", m.urls2), "PUT"))

    -- forced: the manifest again, the normal blobs found present, the foreign one skipped
    m = marks()
    local r3 = copy_ok(src, repo, "ltsc2019", dst, "mirror/" .. repo, "ltsc2019", { force = true })
    assert.equal("copied", r3.status)
    assert.equal(img.digest, r3.digest)
    assert.equal(1, r3.stats.blobs_foreign)
    assert.equal(2, r3.stats.blobs_skipped)
    assert.equal(0, r3.stats.blobs_copied)
    assert.equal(0, requests_naming(m, img.foreign[1]))
  end)

  for _, oci in ipairs { false, true } do
    local kind = oci and "an OCI index" or "a Docker manifest list"
    it("copies " .. kind .. " with one Windows child with a foreign layer and one Linux child", function()
      local repo = H.unique(oci and "foreign/ociidx-" or "foreign/list-")
      local ftype = oci and OCI_NONDIST or DOCKER_FOREIGN
      local win = push_image(src, repo, { oci = oci, foreign_type = ftype, os_version = "10.0.20348.2227" })
      local lin = push_image(src, repo, { oci = oci, os = "linux", arch = "arm64" })
      local idx = push_index(src, repo, "multi", {
        { image = win, platform = { "architecture", "amd64", "os", "windows", "os.version", "10.0.20348.2227" } },
        { image = lin, platform = { "architecture", "arm64", "os", "linux", "variant", "v8" } },
      }, oci)

      local m = marks()
      local r = copy_ok(src, repo, "multi", dst, "mirror/" .. repo, "multi")
      assert.equal("copied", r.status)
      assert.equal(idx.digest, r.digest)
      assert.equal(1, r.stats.blobs_foreign)
      assert.equal(4, r.stats.blobs_copied)   -- two configs, two normal layers
      assert.equal(3, r.stats.manifests_pushed)
      assert.equal(0, requests_naming(m, win.foreign[1]))

      local top = assert(dst:manifest("mirror/" .. repo, "multi"))
      assert.equal(idx.bytes, top.bytes)
      assert.equal(idx.digest, top.digest)
      assert.equal(idx.media_type, top.media_type)
      check_destination("mirror/" .. repo, "multi", { win, lin }, repo, "multi")

      local r2 = copy_ok(src, repo, "multi", dst, "mirror/" .. repo, "multi")
      assert.equal("skipped", r2.status)
      assert.equal(idx.digest, r2.digest)

      -- a platform filter keeping only the Windows child: a new index, the foreign layer
      -- still skipped
      m = marks()
      local rf = copy_ok(src, repo, "multi", dst, "win/" .. repo, "multi",
        { platforms = isync.platforms({ "windows" }, { "amd64" }) })
      assert.equal("copied", rf.status)
      assert.are_not.equal(idx.digest, rf.digest)
      assert.truthy(rf.note)
      assert.equal(1, rf.stats.blobs_foreign)
      assert.equal(2, rf.stats.blobs_mounted)   -- from mirror/<repo>, copied there just before
      assert.equal(0, rf.stats.blobs_copied)
      assert.equal(0, requests_naming(m, win.foreign[1]))
      local fdoc = json.decode(assert(dst:manifest("win/" .. repo, "multi")).bytes)
      assert.equal(1, #fdoc.manifests)
      assert.equal(win.digest, fdoc.manifests[1].digest)
      assert.equal(win.bytes, assert(dst:manifest("win/" .. repo, win.digest)).bytes)
      assert.is_false(dst:blob_exists("win/" .. repo, win.foreign[1]))
    end)
  end

  it("copies an OCI image with a non-distributable layer that has urls", function()
    local repo = H.unique("foreign/oci-")
    local img = push_image(src, repo, { oci = true, foreign_type = OCI_NONDIST, ref = "v1" })
    assert.is_false(src:blob_exists(repo, img.foreign[1]))

    local m = marks()
    local r = copy_ok(src, repo, "v1", dst, "mirror/" .. repo, "v1")
    assert.equal("copied", r.status)
    assert.equal(img.digest, r.digest)
    assert.equal(1, r.stats.blobs_foreign)
    assert.equal(2, r.stats.blobs_copied)
    assert.equal(0, requests_naming(m, img.foreign[1]))
    check_destination("mirror/" .. repo, "v1", { img }, repo, "v1")

    local r2 = copy_ok(src, repo, "v1", dst, "mirror/" .. repo, "v1")
    assert.equal("skipped", r2.status)
    assert.equal(img.digest, r2.digest)
  end)

  it("copies a non-distributable layer without urls like any other layer (stock registries)", function()
    -- no urls: the blob is in the registry (distribution requires it) and must be copied
    local psrc, pdst = H.registry("plain"), H.registry("plain2")
    local repo = H.unique("foreign/nourls-")
    local cfg, layer = random_bytes(256), random_bytes(2048)
    put(psrc, repo, cfg)
    put(psrc, repo, layer)
    local bytes = encode(O { "schemaVersion", 2, "mediaType", OCI_MANIFEST,
      "config", descriptor(OCI_CONFIG, cfg), "layers", A { descriptor(OCI_NONDIST, layer) } })
    put_manifest(psrc, repo, "v1", bytes, OCI_MANIFEST)
    local r = copy_ok(psrc, repo, "v1", pdst, "mirror/" .. repo, "v1")
    assert.equal("copied", r.status)
    assert.equal(isync.digest(bytes), r.digest)
    assert.equal(0, r.stats.blobs_foreign)
    assert.equal(2, r.stats.blobs_copied)
    assert.equal(#layer, pdst:blob_exists("mirror/" .. repo, isync.digest(layer)))
    local ok, out = H.verify("plain", repo, "v1", "plain2", "mirror/" .. repo, "v1")
    assert(ok, out)
  end)

  it("fails cleanly when the destination refuses layer URLs, without touching the layer", function()
    local repo = H.unique("foreign/refused-")
    local img = push_image(src, repo, { foreign_type = DOCKER_FOREIGN, ref = "v1" })
    local p2 = H.registry("plain2", { retry = false })
    local m = marks()
    local r, err, code = isync.copy(src, repo, "v1", p2, "mirror/" .. repo, "v1")
    assert.is_nil(r)
    assert.equal("SERVER_ERROR", code, err)
    assert.truthy(err:find("/manifests/v1", 1, true), err)
    assert.equal(0, requests_naming(m, img.foreign[1]))
    assert.same(false, p2:head("mirror/" .. repo, "v1"))
    for _, b in ipairs(img.blobs) do assert.is_truthy(p2:blob_exists("mirror/" .. repo, b)) end
  end)

  it("syncs foreign-layer images in the image-syncer mode", function()
    local dir = H.tmpdir()
    local repo = H.unique("foreign/compat-")
    local single = push_image(src, repo, { foreign_type = DOCKER_FOREIGN, ref = "ltsc2022" })
    local oci = push_image(src, repo, { oci = true, foreign_type = OCI_NONDIST, ref = "oci" })
    local win = push_image(src, repo, { foreign_type = DOCKER_FOREIGN })
    local lin = push_image(src, repo, { os = "linux" })
    local idx = push_index(src, repo, "multi", {
      { image = win, platform = { "architecture", "amd64", "os", "windows" } },
      { image = lin, platform = { "architecture", "amd64", "os", "linux" } },
    })
    local dest = "sync/" .. repo
    H.write(dir .. "/auth.json", json.encode({ [H.env("ISYNC_T_URLS")] = { insecure = true }, [H.env("ISYNC_T_URLS2")] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [H.env("ISYNC_T_URLS") .. "/" .. repo] = H.env("ISYNC_T_URLS2") .. "/" .. dest }))
    local function run()
      return H.isync(("--auth %s --images %s --ledger %s --report %s"):format(H.q(dir .. "/auth.json"),
        H.q(dir .. "/images.json"), H.q(dir .. "/ledger"), H.q(dir .. "/report.json")))
    end

    local m = marks()
    local ok, out, code = run()
    assert(ok, ("exit %s: %s"):format(tostring(code), out))
    assert.matches("3 images: 3 copied, 0 skipped, 0 failed", out)
    for _, t in ipairs { { "ltsc2022", single.digest }, { "oci", oci.digest }, { "multi", idx.digest } } do
      assert.truthy(out:find(("copied %s/%s:%s -> %s/%s:%s %s"):format(H.env("ISYNC_T_URLS"), repo, t[1], H.env("ISYNC_T_URLS2"), dest, t[1], t[2]),
        1, true), out)
      assert.equal(t[2], assert(dst:head(dest, t[1])).digest)
    end
    local report = json.decode(assert(H.read(dir .. "/report.json")))
    assert.equal(3, report.copied)
    assert.equal(0, report.failed)
    assert.equal(3, #report.images)
    for _, e in ipairs(report.images) do assert.equal("copied", e.status, e.source) end
    for _, f in ipairs { single.foreign[1], oci.foreign[1], win.foreign[1] } do
      assert.equal(0, requests_naming(m, f))
    end
    check_destination(dest, "ltsc2022", { single }, repo, "ltsc2022")
    check_destination(dest, "oci", { oci }, repo, "oci")
    check_destination(dest, "multi", { win, lin }, repo, "multi")

    -- a second run finds everything unchanged
    m = marks()
    ok, out, code = run()
    assert(ok, ("exit %s: %s"):format(tostring(code), out))
    assert.matches("3 images: 0 copied, 3 skipped, 0 failed", out)
    assert.equal(0, H.count(H.requests_since("urls2", m.urls2), "PUT"))
    H.rm(dir)
  end)
end)
