-- Peak memory of a cold sync: bounded by the copies at once, whatever the layer sizes.
local H = require "helpers"
local cjson = require "cjson"

-- The bound at --proc 5 (image-syncer's default). What makes it, measured on the
-- development box: ~13.5 MiB is there before the first blob (shared libraries ~10 MiB,
-- most of it libcrypto, libgnutls and libc pages; the Lua heap is < 1 MiB), then
-- each blob copy at once holds its ring (128 KiB) and curl's 64 KiB receive and upload
-- buffers: ~15.3 MiB here. With 1 MiB rings and 256 KiB curl buffers it peaked at 24 MiB.
local BOUND_KB = 16 * 1024

describe("a cold sync at --proc 5", function()
  it("peaks under " .. BOUND_KB // 1024 .. " MiB with layers 64x the ring", function()
    if H.sanitized then return end   -- ASan's shadow memory and quarantine are not ours
    local P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2")
    local dir = H.tmpdir()
    -- 5 images x 2 layers of 8 MiB: up to 10 copies at once (2 x --proc), each far longer
    -- than its ring, so every ring and curl buffer is full at the peak
    local repos, seed = {}, {}
    for i = 1, 5 do
      repos[i] = H.unique("mem/big-" .. i .. "-")
      seed[#seed + 1] = table.concat({ "python3", H.q(H.root .. "/tests/tools/mkimage.py"), "--registry", H.q(P),
        "--plain-http", "single", H.q(repos[i]), "v1", "--layers", "2", "--layer-size", "8M", ">/dev/null &" }, " ")
    end
    local ok, out = H.sh(table.concat(seed, " ") .. " wait")
    assert(ok, out)
    local images = {}
    for _, r in ipairs(repos) do images[P .. "/" .. r] = P2 .. "/memcopy/" .. r end
    H.write(dir .. "/auth.json", cjson.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.json", cjson.encode(images))
    ok, out = H.sh(("/usr/bin/time -f 'maxrss_kb=%%M' %s --auth %s --images %s --proc 5 --no-ledger"):format(
      H.q(H.bin), H.q(dir .. "/auth.json"), H.q(dir .. "/images.json")))
    H.rm(dir)
    assert(ok, out)
    assert.matches("5 images: 5 copied", out, 1, true)
    local rss = tonumber(out:match("maxrss_kb=(%d+)"))
    io.stderr:write(("\n# cold sync of 5 x 2 x 8 MiB at --proc 5: peak RSS %d kB\n"):format(rss))
    assert.is_true(rss < BOUND_KB, "peak RSS " .. rss .. " kB")
    for _, r in ipairs(repos) do assert(H.verify("plain", r, "v1", "plain2", "memcopy/" .. r, "v1")) end
  end)
end)
