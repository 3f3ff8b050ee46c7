-- The README's first command: scripts/demo starts its own two registries, seeds one, syncs
-- it to the other with migrate.lua, verifies every image independently, and runs again.
local H = require "helpers"

describe("scripts/demo", function()
  it("syncs the sample images, verifies each, and moves nothing on the second run", function()
    local dir = H.tmpdir()
    local ok, out = H.sh(("cd %s && TMPDIR=%s scripts/demo"):format(H.q(H.root), H.q(dir)))
    assert(ok, out)
    local pushed = select(2, out:gsub("\n   pushed ", ""))
    local matched = select(2, out:gsub("\n   MATCH ", ""))
    assert.is_true(pushed >= 4, out)
    assert.equal(pushed, matched, out)
    assert.not_matches("MISMATCH", out)
    -- the two runs' summaries: everything copied, then everything skipped
    local runs = {}
    for c, s, f in out:gmatch("(%d+) copied, (%d+) skipped, (%d+) failed") do runs[#runs + 1] = { tonumber(c), tonumber(s), tonumber(f) } end
    assert.equal(2, #runs, out)
    assert.same({ pushed, 0, 0 }, runs[1])
    assert.same({ 0, pushed, 0 }, runs[2])
    -- it cleaned up after itself: no registry left running, its temp dir gone
    assert.equal("", (select(2, H.sh("ls " .. H.q(dir)))))
    H.rm(dir)
  end)
end)
