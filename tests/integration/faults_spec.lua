-- Faults on the wire: a fault-injecting proxy (tests/tools/faultproxy.py) in front of a
-- real registry resets connections mid-body, answers 500/503, 429 with Retry-After, and
-- truncates bodies. Every image must still arrive intact and the run exit 0.
local H = require "helpers"
local json = require "isync.json"

local function faults_in(log)
  local counts = {}
  for f in (H.read(log) or ""):gmatch("fault=(%w+)") do counts[f] = (counts[f] or 0) + 1 end
  return counts
end

local FAULTS = "--seed %d --reset 4 --truncate 4 --status500 3 --status503 3 --status429 3 --retry-after 1 " ..
               "--only '/v2/.+' --max-faults 40"

local function seed_images(repo)
  local tags = {}
  for i = 1, 4 do
    H.mkimage("plain", "single", repo, "s" .. i, "--layers", "2", "--layer-size", "700K")
    tags[#tags + 1] = "s" .. i
  end
  H.mkimage("plain", "index", repo, "multi", "--platforms", "linux/amd64,linux/arm64", "--shared-base", "--layer-size", "500K")
  H.mkimage("plain", "bigblob", repo, "big", "--size", "24M")
  tags[#tags + 1] = "multi"
  tags[#tags + 1] = "big"
  return tags
end

describe("a sync through a faulty network", function()
  for _, side in ipairs { "source", "destination" } do
    it("delivers every image intact with faults on the " .. side .. " side", function()
      local dir = H.tmpdir()
      local repo = H.unique("faults/" .. side .. "-")
      local tags = seed_images(repo)
      local proxy = H.start_proxy(side == "source" and "plain" or "plain2", dir, "proxy", FAULTS:format(side == "source" and 11 or 23))
      local src = side == "source" and proxy.addr or H.env("ISYNC_T_PLAIN")
      local dst = side == "destination" and proxy.addr or H.env("ISYNC_T_PLAIN2")
      H.write(dir .. "/auth.json", json.encode({ [src] = { insecure = true }, [dst] = { insecure = true } }))
      H.write(dir .. "/images.json", json.encode({ [src .. "/" .. repo] = dst .. "/f/" .. repo }))
      local ok, out, code = H.isync(table.concat({ "--auth", H.q(dir .. "/auth.json"), "--images", H.q(dir .. "/images.json"),
        "--ledger", H.q(dir .. "/ledger"), "--verbose", "--log", H.q(dir .. "/log"), "--proc", "3" }, " "))
      H.stop_proxy(proxy)
      local log = H.read(dir .. "/log") or ""
      assert(ok, ("exit %s: %s\n%s"):format(tostring(code), out, log))
      assert.matches("6 images: 6 copied, 0 skipped, 0 failed", log)
      for _, tag in ipairs(tags) do
        local vok, vout = H.verify("plain", repo, tag, "plain2", "f/" .. repo, tag)
        assert(vok, vout)
      end
      -- the faults really happened, and Retry-After set the wait after a 429
      local counts = faults_in(proxy.log)
      local total = 0
      for _, n in pairs(counts) do total = total + n end
      assert.is_true(total - (counts.none or 0) >= 5, "too few faults injected: " .. json.encode(counts))
      assert.is_true((counts.reset or 0) > 0 and (counts["429"] or 0) + (counts["500"] or 0) + (counts["503"] or 0) > 0,
        json.encode(counts))
      if (counts["429"] or 0) > 0 then assert.matches("in 1%.0s %(attempt %d+%): .-TOOMANYREQUESTS", log) end
      H.rm(dir)
    end)
  end

  it("follows a blob redirect to another host without sending credentials there", function()
    local dir = H.tmpdir()
    local repo = H.unique("faults/redirect-")
    local info = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "3M")
    local proxy = H.start_proxy("plain", dir, "redir", "--redirect-blobs")
    local isync = require "isync"
    local src = isync.registry(proxy.addr, { plain_http = true, docker_config = false })
    local r = assert(isync.copy(src, repo, "v1", H.registry("plain2"), "redir/" .. repo, "v1"))
    H.stop_proxy(proxy)
    assert.equal(info.digest, r.digest)
    local log = H.read(proxy.log)
    assert.matches("GET %S+/blobs/%S+ 307 fault=redirect", log)
    assert.matches("GET /blobstore/%S+ 200 fault=none auth=no listener=store", log)
    assert(H.verify("plain", repo, "v1", "plain2", "redir/" .. repo, "v1"))
    H.rm(dir)
  end)
end)
