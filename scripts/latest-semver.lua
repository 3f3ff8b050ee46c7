-- latest-semver.lua: the latest N minor versions of some repositories, renamed into our
-- namespace.
--
--   isync scripts/latest-semver.lua --from quay.io --to registry.example.com \
--         --namespace mirror --n 3 coreos/etcd prometheus/prometheus
--
-- For each repository: the newest patch of each of its N newest minor lines ("v3.5.9",
-- "v3.4.27", ...), copied to NAMESPACE/<last path component>:<same tag>.
local isync = require "isync"

local o = isync.args(arg, { from = "HOST", to = "HOST", namespace = "mirror", n = 3, per = "minor",
                            range = "*", ["plain-http"] = false, ca = "", ["dry-run"] = false })
local src, dst = isync.connect(o)

local plan = isync.plan { concurrency = 8, dry_run = o.dry_run }
isync.run(function()
  isync.map(o, 8, function(repo)
    local tags = assert(isync.policy.latest_semver(src, repo, o.n, { per = o.per, range = o.range }))
    local target = isync.rename.check(o.namespace .. "/" .. isync.rename.base(repo))
    for _, tag in ipairs(tags) do plan:copy(src:ref(repo, tag), dst:ref(target, tag)) end
  end)
end)
return plan:run().failed == 0
