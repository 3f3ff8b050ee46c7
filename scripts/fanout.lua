-- fanout.lua: one source to several destinations (regional mirrors, a DR copy).
--
--   isync scripts/fanout.lua --from SRC --to DST1,DST2,DST3 [--tags REGEX] REPO...
--
-- (a host may carry its scheme: --to http://10.0.0.5:5000,https://mirror.example.com)
-- Every destination gets the same repositories and tags; a blob moves once per destination
-- registry, and each destination fails or succeeds on its own.
local isync = require "isync"

local o = isync.args(arg, { from = "HOST", to = "HOSTS", tags = ".*", ["plain-http"] = false, ca = "" })
local src, _, dsts = isync.connect(o)
local pick = assert(isync.regex.compile(o.tags))

local repos = {}
for _, r in ipairs(o) do repos[#repos + 1] = r end
local report = isync.mirror {
  from = src, to = dsts, repos = repos,
  tags = function(_, tags)
    local keep = {}
    for _, t in ipairs(tags) do if pick:match(t) then keep[#keep + 1] = t end end
    return keep
  end,
  plan = { concurrency = 8 },
}
return report.failed == 0
