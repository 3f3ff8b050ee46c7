-- The same API from stock lua5.4 through require "isync": from the build tree, and from a
-- `make install` tree, inside someone else's program with its own coroutines.
local H = require "helpers"

local PROGRAM = [[
local isync = require "isync"
local src = isync.registry(os.getenv("SRC"), { plain_http = true, docker_config = false })
local dst = isync.registry(os.getenv("DST"), { plain_http = true, docker_config = false })
-- the host program's own coroutine scheduler: isync calls inside block, and work
local results = {}
local cos = {
  coroutine.create(function() results.tags = src:tags(os.getenv("REPO")); coroutine.yield() end),
  coroutine.create(function() results.copy = assert(isync.copy(src, os.getenv("REPO"), "v1", dst, "embedded/" .. os.getenv("REPO"), "v1")) end),
}
for _ = 1, 3 do for _, co in ipairs(cos) do if coroutine.status(co) ~= "dead" then assert(coroutine.resume(co)) end end end
-- and isync's own tasks inside it
local n = isync.run(function()
  local t = isync.spawn(function() return #src:tags(os.getenv("REPO")) end)
  return isync.wait(t)
end)
-- and a whole policy, run from the host program's own loop
local report = isync.mirror { from = src, to = dst, repos = { os.getenv("REPO") },
  map = function(repo, tag) return "policy/" .. repo, tag end, plan = { ledger = false, log = { level = "quiet" } } }
assert(report.failed == 0 and report.copied == 1, "mirror: " .. report:summary())
print(("EMBED-OK %s %s %d"):format(results.copy.status, results.copy.digest, n))
]]

local function run_lua(lua_path, lua_cpath, repo)
  local f = assert(io.open(os.tmpname() .. ".lua", "w"))
  local path = os.tmpname() .. "-embed.lua"
  f:close()
  f = assert(io.open(path, "w"))
  f:write(PROGRAM)
  f:close()
  local ok, out = H.sh(("SRC=%s DST=%s REPO=%s LUA_PATH=%s LUA_CPATH=%s lua5.4 %s"):format(
    H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2"), H.q(repo), H.q(lua_path), H.q(lua_cpath), H.q(path)))
  os.remove(path)
  return ok, out
end

describe("require 'isync' from stock lua5.4", function()
  it("works with LUA_PATH/LUA_CPATH on the build tree", function()
    local repo = H.unique("embed/tree-")
    local info = H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "5K")
    local ok, out = run_lua(H.root .. "/lua/?.lua;" .. H.root .. "/lua/?/init.lua;;", H.root .. "/build/lib/?.so;;", repo)
    assert(ok, out)
    assert.truthy(out:find("EMBED-OK copied " .. info.digest .. " 1", 1, true), out)
    assert(H.verify("plain", repo, "v1", "plain2", "embedded/" .. repo, "v1"))
  end)

  it("works after make install", function()
    local prefix = os.tmpname()
    os.remove(prefix)
    local ok, out = H.sh(("make -s -C %s install PREFIX=%s"):format(H.q(H.root), H.q(prefix)))
    assert(ok, out)
    local repo = H.unique("embed/installed-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "5K")
    ok, out = run_lua(prefix .. "/share/lua/5.4/?.lua;" .. prefix .. "/share/lua/5.4/?/init.lua;;",
      prefix .. "/lib/lua/5.4/?.so;;", repo)
    assert(ok, out)
    assert.truthy(out:find("EMBED-OK copied", 1, true), out)
    ok, out = H.sh(H.q(prefix .. "/bin/isync") .. " --version")
    assert(ok, out)
    H.sh("rm -rf " .. H.q(prefix))
  end)
end)
