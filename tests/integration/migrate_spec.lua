-- scripts/migrate.lua, the README's policy, run by the isync host as a user runs it.
local H = require "helpers"

describe("scripts/migrate.lua", function()
  it("copies every tag of the named repositories under a prefix, then skips them", function()
    local prefix = H.unique("mig")
    local seeded = H.mkimage("plain", "seed", "--prefix", prefix)
    local repos, seen = {}, {}
    for _, img in ipairs(seeded) do
      if not seen[img.repo] then seen[img.repo] = true; repos[#repos + 1] = img.repo end
    end
    local args = { H.q(H.root .. "/scripts/migrate.lua"), "--from", H.env("ISYNC_T_PLAIN"), "--to",
      H.env("ISYNC_T_PLAIN2"), "--plain-http", "--prefix", "mirror" }
    for _, r in ipairs(repos) do args[#args + 1] = H.q(r) end
    local ok, out = H.isync(table.concat(args, " "))
    assert(ok, out)
    assert.matches(#seeded .. " copied, 0 skipped, 0 failed", out)
    for _, img in ipairs(seeded) do
      local vok, vout = H.verify("plain", img.repo, img.tag, "plain2", "mirror/" .. img.repo, img.tag)
      assert(vok, vout)
    end
    ok, out = H.isync(table.concat(args, " "))
    assert(ok, out)
    assert.matches("0 copied, " .. #seeded .. " skipped, 0 failed", out)
  end)

  it("exits 1 and names the failure when the source refuses", function()
    local ok, out, code = H.isync(table.concat({ H.q(H.root .. "/scripts/migrate.lua"), "--from",
      H.env("ISYNC_T_BASIC"), "--to", H.env("ISYNC_T_PLAIN2"), "--ca", H.env("ISYNC_T_CA"), "--dst-plain-http",
      "some/repo" }, " "), { SRC_USER = "alice", SRC_PASS = "definitely-wrong" })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("FAILED  some/repo: .*UNAUTHORIZED", out)
    assert.is_nil(out:find("definitely-wrong", 1, true))
  end)

  it("prints usage without --from/--to", function()
    local ok, out, code = H.isync(H.q(H.root .. "/scripts/migrate.lua"))
    assert.is_false(ok)
    assert.equal(2, code)
    assert.matches("usage:", out)
  end)
end)
