-- The platform filter is never bypassed: with --os/--arch, a single-platform image whose
-- config cannot be read fails (it used to be copied unfiltered, bringing a platform the
-- user excluded). The config's first GET is answered 404 by tests/tools/faultproxy.py in
-- front of a real registry; later GETs of it succeed, as they did for the unfiltered copy.
local H = require "helpers"
local json = require "isync.json"

describe("the platform filter", function()
  it("fails an image whose config cannot be read instead of copying it unfiltered", function()
    local dir = H.tmpdir()
    local repo = H.unique("pf/arm-")
    local img = H.mkimage("plain", "single", repo, "v1", "--platform", "linux/arm64", "--layers", "1", "--layer-size", "50K")
    local config
    for _, b in ipairs(img.blobs) do if b.media_type:match("config") or b.media_type:match("image%.v1%+json") then config = b.digest end end
    assert(config, "no config among the blobs")
    local proxy = H.start_proxy("plain", dir, "proxy", ("--status404 100 --max-faults 1 --methods GET --only '/v2/%s/blobs/%s'"):format(repo, config))
    local dst = H.env("ISYNC_T_PLAIN2")
    H.write(dir .. "/auth.json", json.encode({ [proxy.addr] = { insecure = true }, [dst] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [proxy.addr .. "/" .. repo .. ":v1"] = dst .. "/pf/" .. repo }))
    local ok, out = H.isync(table.concat({ "--auth", H.q(dir .. "/auth.json"), "--images", H.q(dir .. "/images.json"),
      "--no-ledger", "--arch", "amd64", "--log", H.q(dir .. "/log"), "--report", H.q(dir .. "/report.json") }, " "))
    H.stop_proxy(proxy)
    local what = out .. "\n" .. (H.read(dir .. "/log") or "")
    assert.matches("fault=404", H.read(proxy.log) or "")
    assert.is_false(ok, what)
    local e = json.decode(H.read(dir .. "/report.json")).images[1]
    assert.equal("failed", e.status, what)
    assert.equal("BLOB_UNKNOWN", e.code, what)
    assert.matches("cannot read its config to apply the platform filter (arch amd64)", e.reason, 1, true)
    -- nothing of the excluded platform reached the destination
    local reg = H.registry("plain2")
    local have, herr = reg:head("pf/" .. repo, "v1")
    assert.is_false(have, tostring(herr) .. "\n" .. what)
    H.rm(dir)
  end)
end)
