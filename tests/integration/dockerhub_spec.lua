-- Docker Hub's names from the command line and the image-syncer files. Nothing leaves the
-- machine: plain HTTP to the Hub goes through http_proxy, which is a local registry standing
-- in for it (a registry answers a proxy's absolute-form request by its path), and HTTPS to
-- the Hub goes to a proxy address nothing listens on; the local registries are no_proxy.
local H = require "helpers"
local json = require "isync.json"

local ALIASES = { "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com" }

describe("Docker Hub's names", function()
  local P2, name, env, digest
  setup(function()
    P2 = H.env("ISYNC_T_PLAIN2")
    name = H.unique("dh-")
    digest = H.mkimage("plain", "single", "library/" .. name, "v1", "--layers", "1", "--layer-size", "1K").digest
    env = { http_proxy = "http://" .. H.env("ISYNC_T_PLAIN"), https_proxy = "http://127.0.0.1:1",
            no_proxy = "127.0.0.1,localhost", HTTP_PROXY = "", HTTPS_PROXY = "", NO_PROXY = "" }
  end)

  for i, alias in ipairs(ALIASES) do
    it("a command-line reference on " .. alias .. " is docker.io/library/NAME", function()
      local ok, out = H.isync(("cp --src-plain-http %s %s"):format(H.q(alias .. "/" .. name .. ":v1"),
        H.q(P2 .. "/dh/cli" .. i .. ":v1")), env)
      assert(ok, out)
      assert.matches("copied docker.io/library/" .. name .. ":v1 -> " .. P2 .. "/dh/cli" .. i .. ":v1 " .. digest, out, 1, true)
    end)
  end

  it("an auth-file key and an images-file source on any of its names mean docker.io", function()
    local dir = H.tmpdir()
    for i, key in ipairs(ALIASES) do
      local written = ALIASES[i % #ALIASES + 1]   -- the image names the Hub another way than the key
      -- insecure (HTTPS unverified, else plain HTTP) is what lets it reach the stand-in:
      -- without the key matching, the Hub is HTTPS only and the copy fails
      H.write(dir .. "/auth.json", json.encode({ [key] = { insecure = true } }))
      H.write(dir .. "/images.json", json.encode({ [written .. "/" .. name .. ":v1"] = P2 .. "/dh/file" .. i }))
      local ok, out = H.isync(("--auth %s --images %s --ledger %s --log %s"):format(H.q(dir .. "/auth.json"),
        H.q(dir .. "/images.json"), H.q(dir .. "/ledger" .. i), H.q(dir .. "/log")), env)
      out = out .. (H.read(dir .. "/log") or "")
      assert(ok, key .. " / " .. written .. ": " .. out)
      assert.equal(digest, assert(H.registry("plain2"):head("dh/file" .. i, "v1")).digest)
    end
    H.rm(dir)
  end)
end)
