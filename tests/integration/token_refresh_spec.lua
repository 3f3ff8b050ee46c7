-- Bearer tokens are refreshed before they expire: against a second token server whose
-- tokens live 4 seconds, a call after 3.5 s fetches a new token on its own (no 401 needed).
local isync = require "isync"
local H = require "helpers"

describe("Bearer token lifetime", function()
  local dir, env
  setup(function()
    dir = H.tmpdir()
    local ok, out = H.sh(("ISYNC_T_TOKEN_EXPIRES=4 %s start %s token"):format(
      H.q(H.root .. "/tests/tools/registry-env"), H.q(dir .. "/env")))
    assert(ok, out)
    env = {}
    for k, v in H.read(dir .. "/env/env.sh"):gmatch("export (ISYNC_T_[%w_]+)=['\"]?([^'\"\n]*)") do env[k] = v end
  end)
  teardown(function()
    H.sh(("%s stop %s"):format(H.q(H.root .. "/tests/tools/registry-env"), H.q(dir .. "/env")))
    H.rm(dir)
  end)

  it("is fetched once per scope, reused, and refreshed before it expires", function()
    local reg = isync.registry(env.ISYNC_T_TOKEN, { ca_file = env.ISYNC_T_CA, username = env.ISYNC_T_USER,
                                                    password = env.ISYNC_T_PASS, docker_config = false })
    local repo = "refresh/" .. H.unique("r")
    local function fetches()
      local n = 0
      for l in (H.read(env.ISYNC_T_TOKEN_LOG) or ""):gmatch("[^\n]+") do
        if l:find("scope=repository:" .. repo .. ":pull ", 1, true) then n = n + 1 end
      end
      return n
    end
    assert.same({}, reg:tags(repo, { missing_ok = true }))
    assert.same({}, reg:tags(repo, { missing_ok = true }))
    assert.equal(1, fetches())
    isync.sleep(3.5)   -- past the refresh point (lifetime minus a quarter), before expiry
    assert.same({}, reg:tags(repo, { missing_ok = true }))
    assert.equal(2, fetches())
    local log = H.read(dir .. "/env/token.log") or ""
    local unauthorized = 0
    for _ in log:gmatch('"GET /v2/' .. repo:gsub("%-", "%%-") .. '/tags/list HTTP/1.1" 401') do unauthorized = unauthorized + 1 end
    assert.equal(0, unauthorized)
  end)

  -- runs last: it stops this environment's token server
  it("ends a chunked copy cleanly when the token server dies mid-upload", function()
    local H2 = H
    local repo = H2.unique("refresh/chunked-")
    local info = H2.mkimage("plain", "bigblob", repo, "v1", "--size", "48M")
    local big
    for _, b in ipairs(info.blobs) do if not big or b.size > big.size then big = b end end
    -- the source's blob at 8 MB/s through a proxy: the copy takes 6 s on any machine, past
    -- the refresh point of the 4 s tokens, with the token server killed at 1 s
    local proxy = H2.start_proxy("plain", dir, "slow", "--only '/blobs/sha256:' --rate 8000000")
    local src = isync.registry(proxy.addr, { plain_http = true, docker_config = false })
    local dst = isync.registry(env.ISYNC_T_TOKEN, { ca_file = env.ISYNC_T_CA, username = env.ISYNC_T_USER,
      password = env.ISYNC_T_PASS, docker_config = false, retry = { attempts = 2, base = 0.1, max = 0.2 } })
    local pidfile = dir .. "/env/token-server.pid"
    local n, err, code = isync.run(function()
      local killer = isync.spawn(function()
        isync.sleep(1)
        H2.sh("kill " .. H2.read(pidfile):match("%d+"))
      end)
      -- 64 KiB chunks: hundreds of PATCHes, each asking for a fresh-enough token
      local a, b, c = dst:copy_blob_from(src, repo, big.digest, repo, { size = big.size, chunk_size = 65536, buffer_size = 65536 })
      isync.wait(killer)
      return a, b, c
    end)
    H2.stop_proxy(proxy)
    assert.is_nil(n, "the copy finished before the token expired; make it slower")
    assert.equal("CONNECT", code, err)
    assert.matches("token request", err)
    -- nothing was committed: no closing PUT answered 201 for this repository
    local log = H2.read(dir .. "/env/token.log") or ""
    assert.is_nil(log:find('"PUT /v2/' .. repo .. '/blobs/uploads/[^"]*digest=[^"]*" 201'))
  end)
end)
