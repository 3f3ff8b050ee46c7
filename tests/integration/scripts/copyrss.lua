-- copyrss.lua SRC_ADDR REPO REF DST_ADDR DST_REPO: isync.copy one image between two
-- plain-HTTP registries, then print its blob count and this process's peak RSS.
local isync = require "isync"
local src_addr, repo, ref, dst_addr, dst_repo = table.unpack(arg)
local src = isync.registry(src_addr, { plain_http = true, docker_config = false })
local dst = isync.registry(dst_addr, { plain_http = true, docker_config = false })
local res, err, code = isync.copy(src, repo, ref, dst, dst_repo, ref)
if not res then io.stderr:write(err, " (", code, ")\n"); return 1 end
local hwm
for l in io.lines("/proc/self/status") do hwm = hwm or l:match("^VmHWM:%s*(%d+) kB") end
print(("blobs_copied=%d peak_rss_kb=%s"):format(res.stats.blobs_copied, hwm))
return 0
