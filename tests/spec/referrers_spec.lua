local referrers = require "isync.referrers"
local json = require "isync.json"

local A = { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = "sha256:" .. ("a"):rep(64), size = 10,
            artifactType = "application/spdx+json" }
local B = { mediaType = "application/vnd.oci.image.manifest.v1+json", digest = "sha256:" .. ("b"):rep(64), size = 20 }

describe("isync.referrers", function()
  it("names the fallback tag after the subject digest", function()
    assert.equal("sha256-" .. ("c"):rep(64), referrers.tag("sha256:" .. ("c"):rep(64)))
    assert.equal(referrers.tag, require("isync").referrers.tag)
    -- a sha512 digest's hex is cut at 64 characters, as the OCI distribution spec says
    assert.equal("sha512-" .. ("d"):rep(64), referrers.tag("sha512:" .. ("d"):rep(128)))
  end)

  it("builds a new OCI index when the destination has none", function()
    local doc = json.decode(referrers.merge(nil, { A }))
    assert.equal(2, doc.schemaVersion)
    assert.equal("application/vnd.oci.image.index.v1+json", doc.mediaType)
    assert.same({ A }, { table.unpack(doc.manifests) })
  end)

  it("adds only what the destination's index lacks, keeping what it has", function()
    local have = json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.index.v1+json",
                               manifests = json.array { B }, annotations = { keep = "me" } })
    assert.is_nil(referrers.merge(have, { B }))
    local doc = json.decode(referrers.merge(have, { A, B }))
    assert.equal(2, #doc.manifests)
    assert.equal(B.digest, doc.manifests[1].digest)
    assert.equal(A.digest, doc.manifests[2].digest)
    assert.equal("me", doc.annotations.keep)
  end)

  it("replaces a destination tag that is not an index", function()
    local doc = json.decode(referrers.merge('{"schemaVersion":2,"layers":[]}', { A }))
    assert.equal(1, #doc.manifests)
  end)

  it("rejects descriptors without a valid digest", function()
    local list, err = referrers.descriptors('{"manifests":[{"digest":"nope"}]}', "x")
    assert.is_nil(list)
    assert.matches("x: manifests%[1%] has no valid digest", err)
    assert.is_nil((referrers.descriptors('{"layers":[]}', "x")))
  end)
  it("joins the pages of a paged referrers answer into one index", function()
    local p1 = json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.index.v1+json", manifests = json.array { A } })
    local p2 = json.encode({ schemaVersion = 2, mediaType = "application/vnd.oci.image.index.v1+json", manifests = json.array { B } })
    local doc = json.decode(assert(referrers.join({ p1, p2 }, "x")))
    assert.equal(2, #doc.manifests)
    assert.equal(A.digest, doc.manifests[1].digest)
    assert.equal(B.digest, doc.manifests[2].digest)
    local bytes, err, code = referrers.join({ p1, "<html>" }, "r/x referrers of d")
    assert.is_nil(bytes)
    assert.equal("r/x referrers of d: page 2 is not an image index", err)
    assert.equal("BAD_MANIFEST", code)
  end)
end)
