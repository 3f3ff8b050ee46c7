-- isync.platform: the --os / --arch filter of image-syncer, applied to indexes.
--
-- A filter is {os = {"linux", ...}, arch = {{arch = "arm", variant = "v7"}, {arch = "arm64"}}}.
-- An empty list allows everything. "arm64" matches every variant, "arm:v7" only v7. Index
-- entries without a platform are kept (they are often attestations or artifacts).
local json = require "isync.json"

local M = {}

--- Builds a filter from lists of strings as the flags give them: "linux", "linux:10.0",
--- "amd64", "arm:v7", also comma-separated ("amd64,arm64").
-- "a:b" items from repeated and comma-separated flag values, as {[k1] = a, [k2] = b or nil}.
local function items(list, k1, k2)
  local out = {}
  for _, v in ipairs(list or {}) do
    for item in v:gmatch("[^,%s]+") do
      local a, b = item:match("^([^:]+):?(.*)$")
      out[#out + 1] = { [k1] = a, [k2] = b ~= "" and b or nil }
    end
  end
  return out
end

function M.filter(os_list, arch_list)
  local f = { os = items(os_list, "os", "version"), arch = items(arch_list, "arch", "variant") }
  if #f.os == 0 and #f.arch == 0 then return nil end
  return f
end

--- Does platform p ({os, architecture, variant, ["os.version"]}) pass the filter?
function M.matches(f, p)
  if not f then return true end
  if type(p) ~= "table" then return true end
  local os_ok = #f.os == 0
  for _, o in ipairs(f.os) do
    if o.os == p.os and (not o.version or o.version == p["os.version"]) then os_ok = true end
  end
  local arch_ok = #f.arch == 0
  for _, a in ipairs(f.arch) do
    if a.arch == p.architecture and (not a.variant or a.variant == p.variant) then arch_ok = true end
  end
  return os_ok and arch_ok
end

function M.describe(f)
  if not f then return "all platforms" end
  local parts = {}
  for _, o in ipairs(f.os) do parts[#parts + 1] = "os " .. o.os .. (o.version and (":" .. o.version) or "") end
  for _, a in ipairs(f.arch) do parts[#parts + 1] = "arch " .. a.arch .. (a.variant and (":" .. a.variant) or "") end
  return table.concat(parts, ", ")
end

--- Filters an index's bytes. Returns the bytes unchanged when every entry passes (so the
--- digest is kept); otherwise a new index built deterministically from the kept entries,
--- with a note saying why the digest changed. nil, reason, code when the bytes are no index
--- ("BAD_MANIFEST") or nothing is left ("PLATFORM").
function M.filter_index(f, bytes)
  if not f then return bytes end
  local doc, err = json.decode(bytes)
  if type(doc) ~= "table" or type(doc.manifests) ~= "table" then return nil, "corrupt index: " .. tostring(err), "BAD_MANIFEST" end
  local kept, dropped = json.array(), {}
  for _, d in ipairs(doc.manifests) do
    if M.matches(f, d.platform) then
      kept[#kept + 1] = d
    else
      local p = d.platform
      dropped[#dropped + 1] = (p.os or "?") .. "/" .. (p.architecture or "?") .. (p.variant and ("/" .. p.variant) or "")
    end
  end
  if #dropped == 0 then return bytes end
  if #kept == 0 then return nil, "no platform matches " .. M.describe(f), "PLATFORM" end
  doc.manifests = kept
  return json.encode(doc, "   "), ("platform filter (%s) dropped %s: a new index, so a new digest"):format(
    M.describe(f), table.concat(dropped, ", "))
end

return M
