-- blobcopy.lua SRC_ADDR REPO DIGEST SIZE DST_ADDR DST_REPO [CHUNK]: stream one blob between
-- two plain-HTTP registries, then print bytes, seconds and this process's peak RSS.
local isync = require "isync"
local src_addr, repo, digest, size, dst_addr, dst_repo, chunk = table.unpack(arg)
-- ISYNC_T_TIMEOUT: the metadata request timeout, which must not cap a blob stream
local timeout = tonumber(os.getenv("ISYNC_T_TIMEOUT") or "")
local src = isync.registry(src_addr, { plain_http = true, docker_config = false, timeout = timeout, retry = false })
local dst = isync.registry(dst_addr, { plain_http = true, docker_config = false, timeout = timeout, retry = false })
local t0 = isync.monotime()
local n, err, code = dst:copy_blob_from(src, repo, digest, dst_repo,
  { size = math.tointeger(tonumber(size)), chunk_size = chunk and math.tointeger(tonumber(chunk)) or 0 })
local dt = isync.monotime() - t0
if not n then io.stderr:write(err, " (", code, ")\n"); return 1 end
local hwm
for l in io.lines("/proc/self/status") do hwm = hwm or l:match("^VmHWM:%s*(%d+) kB") end
print(("bytes=%d seconds=%.3f rate_mbs=%.1f peak_rss_kb=%s"):format(n, dt, n / dt / 1e6, hwm))
return 0
