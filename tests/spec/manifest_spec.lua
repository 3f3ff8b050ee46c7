local manifest = require "isync.manifest"
local function json_null() return require("isync.json").null end

describe("isync.manifest", function()
  -- one list (src/registry/mediatypes.c): every type the Accept header asks for is known here
  -- with its kind and pushed as itself, and the constants are that list's
  it("knows exactly the media types core asks registries for", function()
    local core = require "isync.core"
    local want = { index = "index", manifest = "image", artifact = "image", schema1 = "schema1" }
    local names = {}
    assert.equal(7, #core.media_types)
    for _, t in ipairs(core.media_types) do
      assert.equal(t.type, manifest[t.name], t.name)
      assert.equal(want[t.kind], (manifest.kind(t.type, {})), t.type)
      assert.equal(t.type, manifest.push_type(t.type, {}, want[t.kind]))
      names[#names + 1] = t.name
    end
    assert.same({ "OCI_INDEX", "OCI_MANIFEST", "OCI_ARTIFACT", "DOCKER_LIST", "DOCKER_MANIFEST",
                  "DOCKER_SCHEMA1_SIGNED", "DOCKER_SCHEMA1" }, names)
    assert.equal("application/vnd.oci.image.index.v1+json", manifest.OCI_INDEX)
    assert.is_nil(manifest.kind("application/vnd.oci.image.config.v1+json", {}))   -- not a manifest
  end)

  it("classifies by Content-Type, then mediaType, then shape", function()
    assert.equal("index", manifest.kind(manifest.OCI_INDEX, {}))
    assert.equal("image", manifest.kind(manifest.DOCKER_MANIFEST, {}))
    assert.equal("index", manifest.kind("application/json", { mediaType = manifest.DOCKER_LIST }))
    assert.equal("index", manifest.kind(nil, { manifests = {} }))
    assert.equal("image", manifest.kind("text/plain", { config = {}, layers = {} }))
    assert.equal("schema1", manifest.kind(manifest.DOCKER_SCHEMA1_SIGNED, {}))
    assert.equal("schema1", manifest.kind(nil, { schemaVersion = 1 }))
    local k, err = manifest.kind("application/x-other", { hello = 1 })
    assert.is_nil(k)
    assert.matches("unrecognised", err)
  end)

  -- decoded by isync.json: integers stay exact (lua-cjson rounded them through a float),
  -- and a null where a descriptor or list belongs is refused as before
  it("reads sizes past 2^53 exactly and refuses nulls where descriptors belong", function()
    local d = "sha256:" .. ("a"):rep(64)
    local doc = assert(manifest.decode(('{"schemaVersion":2,"config":{"digest":"%s","size":2},' ..
      '"layers":[{"digest":"%s","size":9007199254740993}]}'):format(d, d)))
    assert.equal(9007199254740993, assert(manifest.blobs(doc))[2].size)
    local _, err = manifest.blobs(assert(manifest.decode('{"config":null,"layers":[]}')))
    assert.matches("config is not a descriptor", err)
    _, err = manifest.blobs(assert(manifest.decode(('{"config":{"digest":"%s"},"layers":null}'):format(d))))
    assert.matches("layers is not a list", err)
    _, err = manifest.children(assert(manifest.decode('{"manifests":[null]}')))
    assert.matches("manifests%[1%] is not a descriptor", err)
    assert.equal("image", manifest.kind(nil, assert(manifest.decode('{"manifests":null,"layers":[]}'))))
    assert.is_nil(manifest.platform_string(json_null()))
  end)

  it("lists config then layers and marks foreign layers", function()
    local doc = manifest.decode([[{"schemaVersion":2,
      "config":{"mediaType":"application/vnd.example.unknown+json","digest":"sha256:aa","size":2},
      "layers":[{"digest":"sha256:bb","size":10,"mediaType":"application/vnd.cncf.helm.chart.content.v1.tar+gzip"},
                {"digest":"sha256:cc","size":5,"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"},
                {"digest":"sha256:dd","size":7,"urls":["https://example.invalid/x"]}]}]])
    local blobs = assert(manifest.blobs(doc))
    assert.equal(4, #blobs)
    assert.equal("sha256:aa", blobs[1].digest)
    assert.equal(10, blobs[2].size)
    assert.is_nil(blobs[2].foreign)
    assert.is_true(blobs[3].foreign)
    assert.is_true(blobs[4].foreign)
  end)

  it("rejects descriptors without a valid digest", function()
    local doc = manifest.decode([[{"layers":[{"digest":"nope","size":1}]}]])
    local b, err = manifest.blobs(doc)
    assert.is_nil(b)
    assert.matches("layer 1", err)
    local c, err2 = manifest.children(manifest.decode([[{"manifests":[{"size":1}]}]]))
    assert.is_nil(c)
    assert.matches("manifests%[1%]", err2)
  end)

  it("reports bytes that are not a JSON object", function()
    assert.is_nil((manifest.decode("[1,2]")))
    assert.is_nil((manifest.decode("{truncated")))
  end)

  it("chooses the push media type from what was fetched", function()
    assert.equal(manifest.OCI_MANIFEST, manifest.push_type(manifest.OCI_MANIFEST, {}, "image"))
    assert.equal(manifest.DOCKER_LIST, manifest.push_type("application/octet-stream", { mediaType = manifest.DOCKER_LIST }, "index"))
    assert.equal(manifest.OCI_INDEX, manifest.push_type(nil, {}, "index"))
  end)

  it("formats platforms", function()
    assert.equal("linux/arm/v7", manifest.platform_string({ os = "linux", architecture = "arm", variant = "v7" }))
    assert.is_nil(manifest.platform_string(nil))
  end)
  it("reads an OCI 1.1-rc artifact manifest (files under blobs) as an image-like manifest", function()
    local d1, d2 = "sha256:" .. ("1"):rep(64), "sha256:" .. ("2"):rep(64)
    local doc = assert(manifest.decode(('{"mediaType":"%s","artifactType":"application/spdx+json",' ..
      '"blobs":[{"mediaType":"application/spdx+json","digest":"%s","size":5}],' ..
      '"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"%s","size":9}}'):format(
      manifest.OCI_ARTIFACT, d1, d2)))
    assert.equal("image", manifest.kind(manifest.OCI_ARTIFACT, doc))
    assert.equal(manifest.OCI_ARTIFACT, manifest.push_type(manifest.OCI_ARTIFACT, doc, "image"))
    local blobs = assert(manifest.blobs(doc))
    assert.equal(1, #blobs)
    assert.equal(d1, blobs[1].digest)
    local _, err = manifest.blobs({ blobs = { { digest = "x" } } })
    assert.matches("blob 1 has no valid digest", err)
  end)
end)
