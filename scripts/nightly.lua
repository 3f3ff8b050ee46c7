-- nightly.lua: a mirror kept in sync. Every run copies what changed since the last one
-- (unchanged images cost two HEADs), keeps a ledger between runs, writes a JSON report,
-- and creates destination repositories first where the registry needs that.
--
--   isync scripts/nightly.lua --from SRC --to DST --ledger /var/lib/isync/ledger \
--         --report /var/log/isync/report.json --every 86400 [REPO...]   (no REPO: the catalog)
local isync = require "isync"

local o = isync.args(arg, { from = "HOST", to = "HOST", ledger = "FILE", report = "FILE", every = 0, times = 0,
                            ["create-hook"] = "", ["plain-http"] = false, ca = "" })
local src, dst = isync.connect(o)

local repos
if #o > 0 then repos = {} for _, r in ipairs(o) do repos[#repos + 1] = r end end

local report = isync.mirror {
  from = src, to = dst, repos = repos,
  on_new_repo = function(reg, repo)
    -- registries such as Harbor or ECR want the repository (project) to exist: run a
    -- command of yours here; the demo just says so
    print(("new repository %s/%s"):format(reg.name, repo))
    if o.create_hook ~= "" then assert(os.execute(o.create_hook .. " " .. reg.name .. "/" .. repo)) end
  end,
  priority = function(repo) return repo:match("^base/") and 10 or 0 end,   -- base images first
  plan = { concurrency = 8, ledger = o.ledger, report = o.report },
  every = o.every > 0 and o.every or nil,
  times = o.times > 0 and math.tointeger(o.times) or nil,
}
return report.failed == 0
