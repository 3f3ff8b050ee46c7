local semver = require "isync.semver"

describe("isync.semver", function()
  it("parses tags with and without v, pre-release and build parts", function()
    local v = semver.parse("v1.20.3-rc.1+build.7")
    assert.same({ 1, 20, 3 }, { v.major, v.minor, v.patch })
    assert.same({ "rc", 1 }, v.pre)
    assert.equal("build.7", v.build)
    assert.equal(2, semver.parse("1.20").parts)
    assert.equal(0, semver.parse("1.20").patch)
    for _, bad in ipairs { "latest", "1.2.3.4", "01.2", "1..2", "v", "1.2.", "1.2.3-", "1.2.3+", "sha-1a2b", "1.2.3-a..b" } do
      assert.is_nil(semver.parse(bad), bad)
    end
  end)

  it("compares by the semver precedence rules", function()
    local ordered = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
                      "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0", "2.0.0" }
    for i = 1, #ordered - 1 do
      assert.equal(-1, semver.compare(ordered[i], ordered[i + 1]), ordered[i] .. " < " .. ordered[i + 1])
      assert.equal(1, semver.compare(ordered[i + 1], ordered[i]))
    end
    assert.equal(0, semver.compare("v1.2.3+a", "1.2.3+b"))
    assert.equal(0, semver.compare("1.2", "1.2.0"))
  end)

  it("sorts the version tags and drops the rest", function()
    assert.same({ "1.9", "v1.10.0", "1.10.1", "2.0.0-rc.1", "2.0.0" },
      semver.sort({ "latest", "2.0.0", "1.10.1", "v1.10.0", "1.9", "2.0.0-rc.1", "stable" }))
    assert.same({ "2.0.0", "1.10.1" }, { table.unpack(semver.sort({ "1.10.1", "2.0.0" }, true)) })
  end)

  local cases = {
    { ">=1.20 <2", { "1.20.0", "1.25.3", "1.99" }, { "1.19.9", "2.0.0", "2.0.0-rc.1", "1.21.0-beta" } },
    { "~1.2", { "1.2.0", "1.2.9" }, { "1.3.0", "1.1.9" } },
    { "~1.2.3", { "1.2.3", "1.2.10" }, { "1.3.0", "1.2.2" } },
    { "^3", { "3.0.0", "3.9.9" }, { "4.0.0", "2.9.9" } },
    { "^0.2.3", { "0.2.3", "0.2.9" }, { "0.3.0", "0.2.2" } },
    { "^0.0.3", { "0.0.3" }, { "0.0.4" } },
    { "1.x", { "1.0.0", "1.99.1" }, { "2.0.0", "0.9.0" } },
    { "1.2", { "1.2.0", "1.2.7" }, { "1.3.0" } },
    { "=1.2.3", { "1.2.3", "v1.2.3" }, { "1.2.4" } },
    { "1.2 - 1.4", { "1.2.0", "1.4.9" }, { "1.5.0", "1.1.9" } },
    { ">1.2", { "1.3.0" }, { "1.2.9", "1.2.0" } },
    { "<=1.2", { "1.2.9", "1.0.0" }, { "1.3.0" } },
    { "<1.2 || >=3", { "1.1.0", "3.1.0" }, { "1.2.0", "2.5.0" } },
    { "*", { "0.0.1", "9.9.9" }, { "1.0.0-rc.1" } },
  }
  for _, c in ipairs(cases) do
    it("range " .. c[1], function()
      for _, t in ipairs(c[2]) do assert.is_true(semver.satisfies(t, c[1]), t .. " in " .. c[1]) end
      for _, t in ipairs(c[3]) do assert.is_false(semver.satisfies(t, c[1]), t .. " not in " .. c[1]) end
    end)
  end

  it("admits pre-releases when asked", function()
    assert.is_true(semver.satisfies("2.0.0-rc.1", ">=1.20", { prerelease = true }))
    assert.is_false(semver.satisfies("latest", ">=0"))
  end)

  it("reports malformed ranges", function()
    local r, err = semver.range(">=1.a")
    assert.is_nil(r)
    assert.matches("invalid range", err)
    assert.is_nil((semver.range("=>1")))
  end)

  it("picks the latest N overall and per line", function()
    local tags = { "1.19.0", "1.19.4", "1.20.0", "1.20.1", "1.21.0-rc.1", "1.21.0", "1.21.2", "2.0.0", "2.0.1",
                   "latest", "v2.1.0-beta" }
    assert.same({ "2.0.1", "2.0.0", "1.21.2" }, semver.latest(tags, 3))
    assert.same({ "2.0.1", "1.21.2", "1.20.1" }, semver.latest(tags, 3, { per = "minor" }))
    assert.same({ "2.0.1", "1.21.2" }, semver.latest(tags, 5, { per = "major" }))
    assert.same({ "1.21.2", "1.20.1" }, semver.latest(tags, 2, { per = "minor", range = "<2" }))
    assert.same({ "v2.1.0-beta" }, semver.latest(tags, 1, { prerelease = true }))
    assert.same({}, semver.latest({ "latest", "stable" }, 3))
  end)

  it("refuses numbers past 18 digits (found by fuzzing: tostring failed on the float)", function()
    assert.is_nil(semver.parse("9999999999999999999"))
    assert.is_nil(semver.parse("1.2.99999999999999999999"))
    assert.equal("1.2.3-99999999999999999999", tostring(semver.parse("1.2.3-99999999999999999999")))
  end)
end)
