-- since-date.lua: only the images created since a date, read from each image's config
-- (two GETs per candidate tag, shown at the end), e.g. to carry recent releases only.
--
--   isync scripts/since-date.lua --from SRC --to DST --since 2024-01-01 [--keep 5] REPO...
local isync = require "isync"

local o = isync.args(arg, { from = "HOST", to = "HOST", since = "DATE", keep = 1000, ["plain-http"] = false, ca = "" })
local src, dst = isync.connect(o)
local since = isync.policy.parse_time(o.since) or error("--since: not a date: " .. o.since, 0)

local plan = isync.plan { concurrency = 8 }
local gets = 0
isync.run(function()
  for _, repo in ipairs(o) do
    local tags, cost = assert(isync.policy.latest_created(src, repo, math.tointeger(o.keep), { since = since }))
    gets = gets + cost.manifests + cost.configs
    for _, tag in ipairs(tags) do plan:copy(src:ref(repo, tag), dst:ref(repo, tag)) end
  end
end)
print(("inspected image configs with %d GETs"):format(gets))
return plan:run().failed == 0
