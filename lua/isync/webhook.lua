-- isync.webhook: what a registry's push notification says was pushed. Two payloads:
-- distribution's notifications envelope ({"events": [{action, target: {repository, tag,
-- digest, url}, request: {host}}]}) and Harbor's webhook (type PUSH_ARTIFACT, event_data:
-- {resources: [{tag, digest, resource_url}], repository: {repo_full_name}}).
local core = require "isync.core"
local json = require "isync.json"

local M = {}

local function str(v) return type(v) == "string" and v ~= "" and v or nil end

-- "http://host:5000/v2/..." or "host:5000/repo:tag" -> "host:5000"
local function host_of(url)
  url = str(url)
  if not url then return nil end
  return url:gsub("^%a[%w+.-]*://", ""):match("^([^/]+)")
end

local function push(out, host, repo, tag, digest)
  if not (repo and core.repo_valid(repo)) then return end
  if tag and not core.tag_valid(tag) then return end
  if not tag then return end   -- a push by digest (an index's children, a blob): nothing to follow
  out[#out + 1] = { host = host and core.canonical_name(host), repo = repo, tag = tag, digest = str(digest) }
end

--- The pushes a webhook body names: a list of {host, repo, tag, digest} (host nil when the
--- payload does not say), and the payload's kind ("distribution" | "harbor"); or nil and a
--- message when the body is neither. Other actions (pull, delete, scans) give an empty list.
function M.parse(body)
  local doc, err = json.decode(body)
  if type(doc) ~= "table" then return nil, "not JSON: " .. tostring(err) end
  local out = {}
  if type(doc.events) == "table" then
    for _, ev in ipairs(doc.events) do
      if type(ev) == "table" and ev.action == "push" and type(ev.target) == "table" then
        local t = ev.target
        local host = type(ev.request) == "table" and str(ev.request.host) or host_of(t.url)
        push(out, host, str(t.repository), str(t.tag), t.digest)
      end
    end
    return out, "distribution"
  end
  if type(doc.type) == "string" and type(doc.event_data) == "table" then
    if doc.type == "PUSH_ARTIFACT" or doc.type == "pushImage" then
      local ed = doc.event_data
      local repo = type(ed.repository) == "table" and str(ed.repository.repo_full_name)
      for _, r in ipairs(type(ed.resources) == "table" and ed.resources or {}) do
        if type(r) == "table" then push(out, host_of(r.resource_url), repo, str(r.tag), r.digest) end
      end
    end
    return out, "harbor"
  end
  return nil, "neither a distribution notification nor a Harbor webhook"
end

return M
