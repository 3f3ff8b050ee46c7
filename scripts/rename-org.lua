-- rename-org.lua: move an organisation to a new name and flatten paths for a registry that
-- allows only two levels (Quay, some ACR tiers): team-a/apps/web/frontend -> acme/apps-web-frontend.
--
--   isync scripts/rename-org.lua --from SRC --to DST --org team-a --new-org acme --levels 2 REPO...
local isync = require "isync"

local o = isync.args(arg, { from = "HOST", to = "HOST", org = "ORG", ["new-org"] = "ORG", levels = 2,
                            ["plain-http"] = false, ca = "" })
local src, dst = isync.connect(o)

local function target(repo)
  local renamed = isync.rename.prefix(repo, o.org, o.new_org)
  return isync.rename.flatten(renamed, math.tointeger(o.levels))
end

local repos = {}
for _, r in ipairs(o) do repos[#repos + 1] = r end
local report = isync.mirror {
  from = src, to = dst, repos = repos,
  map = function(repo, tag) return target(repo), tag end,
}
return report.failed == 0
