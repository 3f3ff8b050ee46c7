-- The image-syncer mode against real registries: every rule form and flag, JSON and YAML,
-- the no-op re-run, partial changes, and the bad inputs users actually make.
local isync = require "isync"
local H = require "helpers"
local json = require "isync.json"

-- Runs isync on an images file; the auth file always marks the plain-HTTP registries
-- insecure (image-syncer's way to reach them), plus any entries given.
local function isync_sync(dir, images_text, ext, extra, env, auth_entries)
  local images = dir .. "/images." .. ext
  H.write(images, images_text)
  local auth = dir .. "/auth.json"
  local entries = { [H.env("ISYNC_T_PLAIN")] = { insecure = true }, [H.env("ISYNC_T_PLAIN2")] = { insecure = true } }
  for k, v in pairs(auth_entries or {}) do entries[k] = v end
  H.write(auth, json.encode(entries))
  local args = { "--auth", H.q(auth), "--images", H.q(images), "--ledger", H.q(dir .. "/ledger"), "--log", H.q(dir .. "/log") }
  for _, a in ipairs(extra or {}) do args[#args + 1] = a end
  local ok, out, code = H.isync(table.concat(args, " "), env)
  return ok, out .. (H.read(dir .. "/log") or ""), code
end

local function tags_of(kind, repo)
  local t = assert(H.registry(kind):tags(repo, { missing_ok = true }))   -- none yet is {}
  table.sort(t)
  return t
end

-- a source repository with tags v1.0 v1.1 v2.0 latest (v1.0 and latest the same image)
local function seed(prefix)
  local repo = H.unique(prefix)
  local infos = {}
  for _, t in ipairs { "v1.0", "v1.1", "v2.0" } do
    infos[t] = H.mkimage("plain", "single", repo, t, "--layers", "1", "--layer-size", "2K")
  end
  local src = H.registry("plain")
  local m = assert(src:manifest(repo, "v1.0"))
  assert(src:put_manifest(repo, "latest", m.bytes, m.media_type))
  infos.latest = infos["v1.0"]
  return repo, infos
end

describe("image-syncer mode", function()
  local P, P2, B
  setup(function() P, P2, B = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2"), H.env("ISYNC_T_BASIC") end)

  for _, fmt in ipairs { "yaml", "json" } do
    it("applies every rule form from a " .. fmt .. " file", function()
      local dir = H.tmpdir()
      local repo, infos = seed("compat/forms-")
      local d = "cf-" .. fmt .. "/" .. repo
      local rules = {
        { P .. "/" .. repo, P2 .. "/" .. d .. "/all" },
        { P .. "/" .. repo .. ":v1.0,v2.0", P2 .. "/" .. d .. "/list" },
        { P .. "/" .. repo .. ":v1.1", { P2 .. "/" .. d .. "/fan1", P2 .. "/" .. d .. "/fan2:renamed" } },
        { P .. "/" .. repo .. ":v1.0,v1.1", P2 .. "/" .. d .. "/ren:a,b" },
        { P .. "/" .. repo .. ":/^v1\\.\\d+$/", P2 .. "/" .. d .. "/re" },
        { P .. "/" .. repo .. "@" .. infos["v2.0"].digest, P2 .. "/" .. d .. "/bydigest" },
        { P .. "/" .. repo .. ":latest", "${ISYNC_T_PLAIN2}/" .. d .. "/env" },
      }
      local text
      if fmt == "json" then
        local map = {}
        for _, r in ipairs(rules) do map[r[1]] = type(r[2]) == "table" and json.array(r[2]) or r[2] end
        text = json.encode(map, "  ")
      else
        local lines = {}
        for _, r in ipairs(rules) do
          if type(r[2]) == "table" then
            lines[#lines + 1] = ("%q:"):format(r[1])
            for _, x in ipairs(r[2]) do lines[#lines + 1] = ("  - %q"):format(x) end
          else
            lines[#lines + 1] = ("%q: %q"):format(r[1], r[2])
          end
        end
        text = table.concat(lines, "\n") .. "\n"
      end
      local ok, out = isync_sync(dir, text, fmt, { "--output-success-images", H.q(dir .. "/ok." .. fmt),
        "--output-images-format", fmt })
      assert(ok, out)
      assert.same({ "latest", "v1.0", "v1.1", "v2.0" }, tags_of("plain2", d .. "/all"))
      assert.same({ "v1.0", "v2.0" }, tags_of("plain2", d .. "/list"))
      assert.same({ "v1.1" }, tags_of("plain2", d .. "/fan1"))
      assert.same({ "renamed" }, tags_of("plain2", d .. "/fan2"))
      assert.same({ "a", "b" }, tags_of("plain2", d .. "/ren"))
      assert.same({ "v1.0", "v1.1" }, tags_of("plain2", d .. "/re"))
      assert.same({}, tags_of("plain2", d .. "/bydigest"))   -- by digest only: no tag
      assert.truthy(H.registry("plain2"):head(d .. "/bydigest", infos["v2.0"].digest))
      assert.same({ "latest" }, tags_of("plain2", d .. "/env"))
      assert(H.verify("plain", repo, "v1.1", "plain2", d .. "/ren", "b"))
      assert.equal(infos["v1.0"].digest, H.registry("plain2"):head(d .. "/ren", "a").digest)
      -- the success file lists every synced image, in images-file form
      local okfile = assert(H.read(dir .. "/ok." .. fmt))
      local parsed = fmt == "json" and json.decode(okfile) or require("lyaml").load(okfile)
      local n = 0
      for _, dests in pairs(parsed) do n = n + #dests end
      assert.equal(4 + 2 + 2 + 2 + 2 + 1 + 1, n)
      H.rm(dir)
    end)
  end

  it("--trust-ledger: an unchanged mirror costs one HEAD per tag, at the source only", function()
    local dir = H.tmpdir()
    local repo = seed("compat/trust-")
    local text = ("%q: %q\n"):format(P .. "/" .. repo, P2 .. "/trust/" .. repo)
    local ok, out = isync_sync(dir, text, "yaml")
    assert(ok, out)
    local m1, m2 = H.log_mark("plain"), H.log_mark("plain2")
    ok, out = isync_sync(dir, text, "yaml", { "--trust-ledger" })
    assert(ok, out)
    assert.matches("4 images: 0 copied, 4 skipped, 0 failed", out)
    local r1, r2 = H.requests_since("plain", m1), H.requests_since("plain2", m2)
    assert.equal(4, H.count(r1, "HEAD", "/manifests/"))
    assert.equal(0, H.count(r2, "HEAD", "/manifests/"))
    assert.equal(0, H.count(r2, "GET", "/manifests/"))
    -- a tag changed at the source is asked about at the destination, then copied
    H.mkimage("plain", "single", repo, "v1.1", "--layers", "1", "--layer-size", "3K")
    m2 = H.log_mark("plain2")
    ok, out = isync_sync(dir, text, "yaml", { "--trust-ledger" })
    assert(ok, out)
    assert.matches("4 images: 1 copied, 3 skipped, 0 failed", out)
    r2 = H.requests_since("plain2", m2)
    assert.equal(1, H.count(r2, "HEAD", "/manifests/v1.1"))
    assert.equal(1, H.count(r2, "PUT", "/manifests/"))
    assert(H.verify("plain", repo, "v1.1", "plain2", "trust/" .. repo, "v1.1"))
    -- without the flag the destination is asked again, for every tag
    m2 = H.log_mark("plain2")
    ok, out = isync_sync(dir, text, "yaml")
    assert(ok, out)
    assert.equal(4, H.count(H.requests_since("plain2", m2), "HEAD", "/manifests/"))
    H.rm(dir)
  end)

  it("re-runs over an unchanged mirror with HEADs only, then copies just the changed tags", function()
    local dir = H.tmpdir()
    local repo = seed("compat/noop-")
    local text = ("%q: %q\n"):format(P .. "/" .. repo, P2 .. "/noop/" .. repo)
    local ok, out = isync_sync(dir, text, "yaml")
    assert(ok, out)
    local m1, m2 = H.log_mark("plain"), H.log_mark("plain2")
    ok, out = isync_sync(dir, text, "yaml", { "--output-success-images", H.q(dir .. "/ok.json"),
      "--output-images-format", "json", "--report", H.q(dir .. "/r.json") })
    assert(ok, out)
    assert.matches("4 images: 0 copied, 4 skipped, 0 failed", out)
    -- as image-syncer: nothing was synced by this run, so no "success"; the report has them
    local okdoc = json.decode(assert(H.read(dir .. "/ok.json")))
    assert.is_nil(next(okdoc), H.read(dir .. "/ok.json"))
    local rep = json.decode(assert(H.read(dir .. "/r.json")))
    local skipped = 0
    for _, e in ipairs(rep.images) do if e.status == "skipped" then skipped = skipped + 1 end end
    assert.equal(4, skipped)
    local r1, r2 = H.requests_since("plain", m1), H.requests_since("plain2", m2)
    local all = {}
    for _, r in ipairs(r1) do all[#all + 1] = r end
    for _, r in ipairs(r2) do all[#all + 1] = r end
    assert.equal(0, H.count(all, "GET", "/manifests/"))
    local puts = {}
    for _, r in ipairs(all) do if r.method == "PUT" then puts[#puts + 1] = r.path end end
    assert.equal(0, #puts, table.concat(puts, " "))
    assert.equal(0, H.count(all, "POST"))
    assert.equal(0, H.count(all, "PATCH"))
    assert.equal(0, H.count(all, nil, "/blobs/"))
    -- at most two requests per tag plus the tag listing and one /v2/ ping per registry
    local function pings(reqs)
      local n = 0
      for _, r in ipairs(reqs) do if r.method == "GET" and r.path == "/v2/" then n = n + 1 end end
      return n
    end
    assert.equal(1, pings(r1))
    assert.equal(1, pings(r2))
    assert.equal(1, H.count(all, "GET", "/tags/list"))
    assert.is_true(#all - 1 - 2 <= 2 * 4, ("%d requests for 4 tags"):format(#all))
    -- change two tags at the source: only they move
    H.mkimage("plain", "single", repo, "v1.1", "--layers", "1", "--layer-size", "2K")
    H.mkimage("plain", "single", repo, "v3.0", "--layers", "1", "--layer-size", "2K")
    m2 = H.log_mark("plain2")
    ok, out = isync_sync(dir, text, "yaml")
    assert(ok, out)
    assert.matches("5 images: 2 copied, 3 skipped, 0 failed", out)
    assert.equal(2, H.count(H.requests_since("plain2", m2), "PUT", "/manifests/"))
    assert(H.verify("plain", repo, "v1.1", "plain2", "noop/" .. repo, "v1.1"))
    H.rm(dir)
  end)

  it("filters platforms with --os/--arch, says the digest changed, and keeps it without a filter", function()
    local dir = H.tmpdir()
    local repo = H.unique("compat/plat-")
    local info = H.mkimage("plain", "index", repo, "v1", "--oci", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7")
    local text = ("%q: %q\n"):format(P .. "/" .. repo .. ":v1", P2 .. "/plat/" .. repo .. "-f:v1")
      .. ("%q: %q\n"):format(P .. "/" .. repo .. ":v1", P2 .. "/plat/" .. repo .. "-all:v1")
    -- one run per destination: the filter applies to the whole run
    local one = ("%q: %q\n"):format(P .. "/" .. repo .. ":v1", P2 .. "/plat/" .. repo .. "-f:v1")
    local ok, out = isync_sync(dir, one, "yaml", { "--no-ledger", "--arch", "amd64,arm:v7",
      "--os", "linux", "--report", H.q(dir .. "/r.json") })
    assert(ok, out)
    assert.matches("platform filter", out)
    local m = assert(H.registry("plain2"):manifest("plat/" .. repo .. "-f", "v1"))
    assert.are_not.equal(info.digest, m.digest)
    local doc = json.decode(m.bytes)
    assert.equal(2, #doc.manifests)
    local archs = {}
    for _, d in ipairs(doc.manifests) do archs[#archs + 1] = d.platform.architecture .. (d.platform.variant or "") end
    table.sort(archs)
    assert.same({ "amd64", "armv7" }, archs)
    local report = json.decode(H.read(dir .. "/r.json"))
    assert.matches("dropped linux/arm64", report.images[1].note)
    ok, out = isync_sync(dir, text, "yaml")
    assert(ok, out)
    assert.equal(info.digest, H.registry("plain2"):head("plat/" .. repo .. "-all", "v1").digest)
    -- a second filtered run finds the filtered index in place
    ok, out = isync_sync(dir, one, "yaml", { "--no-ledger", "--arch", "amd64", "--arch", "arm:v7", "--os", "linux" })
    assert(ok, out)
    assert.matches("0 copied, 1 skipped", out)
    H.rm(dir)
  end)

  it("takes credentials by the longest auth key, from the environment, and honours --force", function()
    local dir = H.tmpdir()
    local repo = H.unique("compat/auth-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local auth = {
      [B] = { username = "nobody", password = "wrong" },
      [B .. "/good"] = { username = "${ISYNC_T_USER}", password = "$ISYNC_T_PASS", insecure = true },
    }
    local text = json.encode({ [P .. "/" .. repo .. ":v1"] = B .. "/good/" .. repo })
    local ok, out = isync_sync(dir, text, "json", nil, nil, auth)
    assert(ok, out)
    local mark = H.log_mark("basic")
    ok, out = isync_sync(dir, text, "json", { "--force" }, nil, auth)
    assert(ok, out)
    assert.equal(1, H.count(H.requests_since("basic", mark), "PUT", "/manifests/v1"))
    H.rm(dir)
  end)

  it("shows a live progress line on a terminal and timestamped lines in a log", function()
    local dir = H.tmpdir()
    local repo = H.unique("compat/prog-")
    H.mkimage("plain", "bigblob", repo, "big", "--size", "160M")
    H.write(dir .. "/auth.json", json.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [P .. "/" .. repo] = P2 .. "/prog/" .. repo }))
    -- `script` gives isync a pseudo-terminal, as a person running it has
    local cmd = ("%s --auth %s --images %s --no-ledger"):format(H.q(H.bin), H.q(dir .. "/auth.json"),
      H.q(dir .. "/images.json"))
    local ok, out = H.sh(("script -qec %s /dev/null"):format(H.q(cmd)))
    assert(ok, out)
    assert.matches("\r\27%[Kisync: %d+/1 images, 0 failed, [%d.]+ [KMG]?B moved", out)
    assert.matches("1 image: 1 copied, 0 skipped, 0 failed", out)
    -- a log file gets timestamped lines and no terminal control
    ok, out = isync_sync(dir, json.encode({ [P .. "/" .. repo] = P2 .. "/prog2/" .. repo }), "json", { "--force" })
    assert(ok, out)
    local log = H.read(dir .. "/log")
    assert.matches("%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ copied ", log)
    assert.is_nil(log:find("\27", 1, true))
    H.rm(dir)
  end)

  it("uses the default ledger ($XDG_STATE_HOME/isync/ledger) as --help says, none with --no-ledger", function()
    local dir = H.tmpdir()
    local repo = H.unique("compat/ledger-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "2", "--layer-size", "1K")
    H.write(dir .. "/auth.json", json.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.yaml", ("%q: %q\n"):format(P .. "/" .. repo, P2 .. "/led/" .. repo))
    local args = "--auth " .. H.q(dir .. "/auth.json") .. " --images " .. H.q(dir .. "/images.yaml")
    local ok, out = H.isync(args .. " --no-ledger", { XDG_STATE_HOME = dir .. "/state" })
    assert(ok, out)
    assert.is_nil(H.read(dir .. "/state/isync/ledger"))
    ok, out = H.isync(args .. " --force", { XDG_STATE_HOME = dir .. "/state" })
    assert(ok, out)
    local ledger = assert(H.read(dir .. "/state/isync/ledger"), "no default ledger written")
    local blobs = 0
    for _ in ledger:gmatch("\tsha256:%x+\n") do blobs = blobs + 1 end
    assert.is_true(blobs >= 3, ledger)   -- two layers and the config, at the destination
    H.rm(dir)
  end)

  it("reads the legacy --config file", function()
    local dir = H.tmpdir()
    local repo = H.unique("compat/cfg-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    H.write(dir .. "/c.yaml", ("auth:\n  %q:\n    insecure: true\n  %q:\n    insecure: true\nimages:\n  %q: %q\n"):format(
      P, P2, P .. "/" .. repo .. ":v1", P2 .. "/cfg/" .. repo))
    local ok, out = H.isync("--config " .. H.q(dir .. "/c.yaml") .. " --no-ledger")
    assert(ok, out)
    assert.same({ "v1" }, tags_of("plain2", "cfg/" .. repo))
    H.rm(dir)
  end)

  it("lists what would move with --dry-run and writes nothing", function()
    local dir = H.tmpdir()
    local repo = seed("compat/dry-")
    local mark = H.log_mark("plain2")
    local ok, out = isync_sync(dir, ("%q: %q\n"):format(P .. "/" .. repo, P2 .. "/dry/" .. repo), "yaml", { "--dry-run" })
    assert(ok, out)
    assert.matches("dry run: 4 images: 4 would be copied", out)
    local reqs = H.requests_since("plain2", mark)
    assert.equal(0, H.count(reqs, "PUT") + H.count(reqs, "POST") + H.count(reqs, "PATCH"))
    assert.same({}, tags_of("plain2", "dry/" .. repo))
    H.rm(dir)
  end)

  describe("bad input", function()
    it("a wrong password fails every image with UNAUTHORIZED, exit 1, no secret shown", function()
      local dir = H.tmpdir()
      local repo = H.unique("compat/bad-")
      H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
      local ok, out, code = isync_sync(dir, ("%q: %q\n"):format(P .. "/" .. repo .. ":v1", B .. "/x/" .. repo), "yaml",
        { "--output-failed-images", H.q(dir .. "/failed.yaml") }, nil,
        { [B] = { username = "alice", password = "s3cret-wrong-pw", insecure = true } })
      assert.is_false(ok)
      assert.equal(1, code)
      assert.matches("FAILED .- UNAUTHORIZED", out)
      assert.is_nil(out:find("s3cret-wrong-pw", 1, true))
      assert.truthy(H.read(dir .. "/failed.yaml"):find(repo, 1, true))
      H.rm(dir)
    end)

    it("an unknown host and a missing tag are named", function()
      local dir = H.tmpdir()
      local repo = H.unique("compat/miss-")
      H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
      local text = ("%q: %q\n%q: %q\n"):format(P .. "/" .. repo .. ":nope", P2 .. "/m/" .. repo,
        "no-such-registry.invalid/a/b:v1", P2 .. "/m/b")
      local ok, out, code = isync_sync(dir, text, "yaml", { "--retries", "0" })
      assert.is_false(ok)
      assert.equal(1, code)
      assert.truthy(out:find(repo .. ":nope", 1, true))
      assert.matches("manifest unknown %(MANIFEST_UNKNOWN%)", out)
      assert.matches("no%-such%-registry%.invalid.-CONNECT", out)
      H.rm(dir)
    end)

    it("a malformed images file is one line, exit 1, and nothing is written", function()
      local dir = H.tmpdir()
      local cases = {
        { "images.yaml", "a: [b\n", "not valid YAML" },
        { "images.json", "{\"a\": ", "not valid JSON" },
        { "images.txt", "a: b\n", "must end in .yaml" },
        { "images.yaml", ("%q: \"\"\n"):format(P .. "/x/y"), "destination is empty" },
        { "images.yaml", ("%q: %q\n"):format(P .. "/x/y", P2 .. "/Bad/Name"), "invalid repository name" },
        { "images.yaml", ("%q: %q\n"):format(P .. "/x/y:/v(1/", P2 .. "/z"), "invalid regex" },
        { "images.yaml", "- just\n- a list\n", "must hold a map" },
      }
      for _, c in ipairs(cases) do
        H.write(dir .. "/" .. c[1], c[2])
        local mark = H.log_mark("plain2")
        local ok, out, code = H.isync("--images " .. H.q(dir .. "/" .. c[1]) .. " --no-ledger")
        assert.is_false(ok, c[1])
        assert.equal(1, code, out)
        assert.truthy(out:find(c[3], 1, true), c[3] .. " in: " .. out)
        assert.matches("^isync: [^\n]+\n$", out)
        assert.equal(0, #H.requests_since("plain2", mark))
      end
      local ok, out = H.isync("--images /nonexistent/images.yaml")
      assert.is_false(ok)
      assert.matches("cannot read images file /nonexistent/images.yaml", out)
      ok, out = H.isync("--images " .. H.q(dir .. "/images.yaml") .. " --proc zero")
      assert.is_false(ok)
      assert.matches("%-%-proc needs a positive integer", out)
      H.rm(dir)
    end)
  end)
end)
