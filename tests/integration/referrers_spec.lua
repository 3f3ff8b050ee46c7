-- Referrers (signatures, SBOMs, attestations) copied along with their image: distribution
-- 2.8 has no referrers API, so both sides use the OCI 1.1 fallback tag "sha256-<hex>",
-- maintained at the source by tests/tools/mkimage.py the way OCI clients do.
local H = require "helpers"
local json = require "isync.json"

local SIG = "application/vnd.dev.cosign.artifact.sig.v1+json"
local SBOM = "application/spdx+json"

local function fallback_tag(digest) return (digest:gsub(":", "-", 1)) end

-- a referrer of subject (a tag or digest) in kind/repo, pushed by digest; returns its digest
local function refer(kind, repo, subject, artifact_type)
  return H.mkimage(kind, "artifact", repo, "-", "--subject", subject, "--artifact-type", artifact_type,
    "--config-type", "application/vnd.oci.empty.v1+json").digest
end

local function cp(args) return H.isync("cp --plain-http " .. args) end

-- the digests an index lists, sorted
local function listed(kind, repo, tag)
  local m = H.registry(kind):manifest(repo, tag)
  if not m then return nil end
  local out = {}
  for _, d in ipairs(json.decode(m.bytes).manifests) do out[#out + 1] = d.digest end
  table.sort(out)
  return out
end

describe("referrers", function()
  local P, P2
  setup(function() P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2") end)

  it("come along with an image (and theirs in turn) only when asked, byte for byte", function()
    local repo = H.unique("refs/a-")
    local img = H.mkimage("plain", "index", repo, "v1", "--platforms", "linux/amd64,linux/arm64")
    local sig = refer("plain", repo, "v1", SIG)
    local sbom = refer("plain", repo, "v1", SBOM)
    local sbom_sig = refer("plain", repo, sbom, SIG)
    local dst = H.registry("plain2")

    local ok, out = cp(H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. "-plain:v1"))
    assert(ok, out)
    assert.is_false(dst:head(repo .. "-plain", fallback_tag(img.digest)))
    assert.is_false(dst:head(repo .. "-plain", sig))

    ok, out = cp("--referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1"))
    assert(ok, out)
    assert.matches("3 referrers copied", out, 1, true)
    for _, d in ipairs { sig, sbom, sbom_sig } do
      local vok, vout = H.verify("plain", repo, d, "plain2", repo, d)
      assert(vok, vout)
    end
    -- the fallback tags are the source's own bytes (the destination had none)
    for _, subject in ipairs { img.digest, sbom } do
      local vok, vout = H.verify("plain", repo, fallback_tag(subject), "plain2", repo, fallback_tag(subject))
      assert(vok, vout)
    end
    assert.same(listed("plain", repo, fallback_tag(img.digest)), listed("plain2", repo, fallback_tag(img.digest)))

    -- unchanged: a second run pushes nothing at all
    local mark = H.log_mark("plain2")
    ok, out = cp("--referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1"))
    assert(ok, out)
    assert.matches("^skipped .*0 referrers copied", out)
    local reqs = H.requests_since("plain2", mark)
    assert.equal(0, H.count(reqs, "PUT") + H.count(reqs, "POST") + H.count(reqs, "PATCH"))
  end)

  it("added at the source later are mirrored on the next sync of the unchanged image", function()
    local dir = H.tmpdir()
    local repo = H.unique("refs/late-")
    local img = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    local first = refer("plain", repo, "v1", SIG)
    H.write(dir .. "/auth.json", json.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [P .. "/" .. repo .. ":v1"] = P2 .. "/" .. repo }))
    local args = table.concat({ "--auth", H.q(dir .. "/auth.json"), "--images", H.q(dir .. "/images.json"),
      "--ledger", H.q(dir .. "/ledger"), "--referrers", "--report", H.q(dir .. "/report.json") }, " ")
    local ok, out = H.isync(args)
    assert(ok, out)
    assert.matches("1 image: 1 copied", out, 1, true)

    -- a destination-only signature must survive: the fallback index is merged, not replaced
    local local_sig = refer("plain2", repo, img.digest, SIG)
    local second = refer("plain", repo, "v1", SBOM)
    local mark = H.log_mark("plain2")
    ok, out = H.isync(args)
    assert(ok, out)
    assert.matches("1 image: 0 copied, 1 skipped", out, 1, true)
    local reqs = H.requests_since("plain2", mark)
    assert.equal(0, H.count(reqs, "PUT", "/manifests/v1"))      -- the image itself was not pushed again
    assert.equal(1, H.count(reqs, "PUT", "/manifests/" .. second))
    local want = { first, second, local_sig }
    table.sort(want)
    assert.same(want, listed("plain2", repo, fallback_tag(img.digest)))
    local report = json.decode(H.read(dir .. "/report.json"))
    assert.equal(1, report.images[1].referrers_copied)
    H.rm(dir)
  end)

  it("include cosign's sha256-<hex>.sig/.att tags, updated when the source's change", function()
    local repo = H.unique("refs/cosign-")
    local img = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    local sig_tag, att_tag = fallback_tag(img.digest) .. ".sig", fallback_tag(img.digest) .. ".att"
    H.mkimage("plain", "artifact", repo, sig_tag, "--artifact-type", SIG)
    H.mkimage("plain", "artifact", repo, att_tag, "--artifact-type", "application/vnd.dsse.envelope.v1+json")
    local args = "--referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1")
    local ok, out = cp(args)
    assert(ok, out)
    assert.matches("2 referrers copied", out, 1, true)
    for _, t in ipairs { sig_tag, att_tag } do
      local vok, vout = H.verify("plain", repo, t, "plain2", repo, t)
      assert(vok, vout)
    end
    assert.is_false(H.registry("plain2"):head(repo, fallback_tag(img.digest) .. ".sbom"))
    -- a new signature replaces the tag at the source: only that tag moves again
    local newsig = H.mkimage("plain", "artifact", repo, sig_tag, "--artifact-type", SIG)
    local mark = H.log_mark("plain2")
    ok, out = cp(args)
    assert(ok, out)
    assert.matches("1 referrers copied", out, 1, true)
    local reqs = H.requests_since("plain2", mark)
    assert.equal(1, H.count(reqs, "PUT", "/manifests/"))
    assert.equal(1, H.count(reqs, "PUT", "/manifests/" .. sig_tag))
    assert.equal(newsig.digest, H.registry("plain2"):head(repo, sig_tag).digest)
  end)

  it("listed twice, in a cycle, or gone from the source are copied once or skipped with a note", function()
    local repo = H.unique("refs/odd-")
    local img = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    local sig = refer("plain", repo, "v1", SIG)
    local gone = refer("plain", repo, "v1", SBOM)
    -- the fallback index names sig twice and the image itself (a cycle) ...
    local src = H.registry("plain")
    local tag = fallback_tag(img.digest)
    local doc = json.decode(assert(src:manifest(repo, tag)).bytes)
    doc.manifests[#doc.manifests + 1] = doc.manifests[1]
    doc.manifests[#doc.manifests + 1] = { mediaType = img.media_type, digest = img.digest, size = img.size }
    assert(src:put_manifest(repo, tag, json.encode(doc), "application/vnd.oci.image.index.v1+json"))
    -- ... and one referrer was deleted since (as registries collect untagged manifests)
    local ok, out = H.sh(("curl -sS -f -X DELETE http://%s/v2/%s/manifests/%s"):format(P, repo, gone))
    assert(ok, out)
    local mark = H.log_mark("plain2")
    ok, out = cp("--referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1"))
    assert(ok, out)
    assert.matches("1 referrers copied", out, 1, true)
    assert.matches("referrer " .. gone .. " of " .. img.digest .. " is listed but gone from the source: skipped", out, 1, true)
    local reqs = H.requests_since("plain2", mark)
    assert.equal(1, H.count(reqs, "PUT", "/manifests/" .. sig))
    assert.equal(1, H.count(reqs, "PUT", "/manifests/" .. tag))
    -- the destination's index lists what it has, once each
    local want = { sig, img.digest }
    table.sort(want)
    assert.same(want, listed("plain2", repo, tag))
  end)

  it("are counted, not written, in a dry run", function()
    local repo = H.unique("refs/dry-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    local sig = refer("plain", repo, "v1", SIG)
    local ok, out = cp("--dry-run --referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1"))
    assert(ok, out)
    assert.matches("would copy .*1 referrers copied", out)
    assert.is_false(H.registry("plain2"):head(repo, sig))
  end)

  it("in a fallback tag that is not an index fail the image with a clear error", function()
    local repo = H.unique("refs/bad-")
    local img = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    -- the fallback tag names an image manifest instead of an index
    local src = H.registry("plain")
    local m = assert(src:manifest(repo, "v1"))
    assert(src:put_manifest(repo, fallback_tag(img.digest), m.bytes, m.media_type))
    local ok, out = cp("--referrers " .. H.q(P .. "/" .. repo .. ":v1") .. " " .. H.q(P2 .. "/" .. repo .. ":v1"))
    assert.is_false(ok)
    assert.matches(fallback_tag(img.digest) .. ": not an image index", out, 1, true)
    assert.equal(1, select(2, out:gsub("\n", "")))   -- one line
  end)
end)
