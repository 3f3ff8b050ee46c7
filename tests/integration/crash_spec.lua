-- A sync killed with SIGKILL in the middle, then run again: the mirror ends complete and
-- correct, and the ledger loads (a torn last record is ignored).
local H = require "helpers"
local json = require "isync.json"

describe("a sync killed mid-way", function()
  it("completes on the next run with a ledger that loads", function()
    local dir = H.tmpdir()
    local P2 = H.env("ISYNC_T_PLAIN2")
    local repo = H.unique("crash/r-")
    local big = H.mkimage("plain", "bigblob", repo, "big", "--size", "192M")
    for i = 1, 6 do H.mkimage("plain", "single", repo, "s" .. i, "--layers", "2", "--layer-size", "3M") end
    H.mkimage("plain", "index", repo, "multi", "--platforms", "linux/amd64,linux/arm64", "--layer-size", "2M")
    table.sort(big.blobs, function(a, b) return a.size > b.size end)
    -- The big layer's GET is held back 3 s by a proxy, so the kill lands mid-run on any
    -- machine: after the first image is reported copied, before the big one can be.
    local proxy = H.start_proxy("plain", dir, "slow", "--only '/blobs/" .. big.blobs[1].digest .. "' --delay-ms 3000")
    local P = proxy.addr
    H.write(dir .. "/auth.json", json.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [P .. "/" .. repo] = P2 .. "/mirror/" .. repo }))
    local cmd = table.concat({ H.q(H.bin), "--auth", H.q(dir .. "/auth.json"), "--images", H.q(dir .. "/images.json"),
      "--ledger", H.q(dir .. "/ledger"), "--proc", "2", "--log", H.q(dir .. "/log1") }, " ")
    local _, out = H.sh(("(exec %s) & pid=$!; for i in $(seq 600); do grep -q ' copied ' %s 2>/dev/null && break; sleep 0.02; done; " ..
      "kill -KILL $pid; wait $pid; echo rc=$?"):format(cmd, H.q(dir .. "/log1")))
    assert.matches("rc=137", out)   -- it really was killed, not finished
    assert.matches(" copied ", H.read(dir .. "/log1") or "", 1, true)   -- after some progress
    assert.is_false((H.verify("plain", repo, "big", "plain2", "mirror/" .. repo, "big")))
    -- and, as if the kill had landed inside a write, a torn last record
    local f = assert(io.open(dir .. "/ledger", "a"))
    f:write("0badf00d B\thttp://torn")
    f:close()
    local ok, out2 = H.isync(table.concat({ "--auth", H.q(dir .. "/auth.json"), "--images", H.q(dir .. "/images.json"),
      "--ledger", H.q(dir .. "/ledger"), "--proc", "2" }, " "))
    assert(ok, out2)
    local copied, skipped = out2:match("8 images: (%d+) copied, (%d+) skipped, 0 failed")
    assert.truthy(copied, out2)
    assert.is_true(tonumber(copied) >= 1 and tonumber(skipped) >= 1, out2)
    for _, tag in ipairs { "big", "s1", "s2", "s3", "s4", "s5", "s6", "multi" } do
      local vok, vout = H.verify("plain", repo, tag, "plain2", "mirror/" .. repo, tag)
      assert(vok, vout)
    end
    -- the ledger loads cleanly and knows the mirror
    local ledger = assert(require("isync.ledger").open(dir .. "/ledger"))
    assert.equal(0, ledger.skipped)
    local base = "http://" .. P2
    local n = 0
    for key in pairs(ledger.images) do if key:find(base .. "/mirror/" .. repo, 1, true) then n = n + 1 end end
    assert.equal(8, n)
    ledger:close()
    H.stop_proxy(proxy)
    H.rm(dir)
  end)
end)
