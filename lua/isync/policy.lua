-- isync.policy: the pieces a sync policy is made of. Choosing tags (latest N by semver or
-- by creation time), and isync.mirror: a source, destinations, and hooks to choose tags,
-- map names, act on a destination repository that does not exist yet, order the work, and
-- run again every so often.
local sched = require "isync.sched"
local semver = require "isync.semver"
local manifest = require "isync.manifest"
local json = require "isync.json"
local plan_mod = require "isync.plan"
local check = require "isync.check"

local M = {}

--- The latest n tags of a repository by semver (see isync.semver.latest for opts).
function M.latest_semver(reg, repo, n, opts)
  local tags, err, code = reg:tags(repo)
  if not tags then return nil, err, code end
  return semver.latest(tags, n, opts)
end

local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

--- Seconds since the epoch for an RFC 3339 time ("2024-05-01T12:00:00.5Z", "+02:00").
function M.parse_time(s)
  if type(s) ~= "string" then return nil end
  local y, mo, d, h, mi, sec, frac, tz = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(%.?%d*)(.*)$")
  if not y then
    y, mo, d = s:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)$")
    if not y then return nil end
    h, mi, sec, frac, tz = 0, 0, 0, "", "Z"
  end
  local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60
    + tonumber(sec) + (frac ~= "" and frac ~= "." and tonumber("0" .. frac) or 0)
  if tz == "Z" or tz == "z" or tz == "" then return t end
  local sign, oh, om = tz:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then return nil end
  local off = tonumber(oh) * 3600 + tonumber(om) * 60
  return sign == "+" and t - off or t + off
end

--- When an image was created, from its config (for an index: its first image, or the one
--- matching platform "os/arch"). Returns seconds, or nil, message, code. cost (a table)
--- counts the GETs it made: {manifests = n, configs = n}.
function M.created(reg, repo, ref, cost, platform)
  cost = cost or {}
  cost.manifests = (cost.manifests or 0) + 1
  local m, err, code = reg:manifest(repo, ref)
  if not m then return nil, err, code end
  local doc = manifest.decode(m.bytes)
  if not doc then return nil, ref .. ": corrupt manifest", "BAD_MANIFEST" end
  local kind = manifest.kind(m.media_type, doc)
  if kind == "index" then
    local children = manifest.children(doc) or {}
    local pick
    for _, c in ipairs(children) do
      local p = manifest.platform_string(c.platform)
      if (not platform and p and not p:match("^unknown")) or (platform and p and p:sub(1, #platform) == platform) then
        pick = c
        break
      end
    end
    pick = pick or children[1]
    if not pick then return nil, ref .. ": empty index", "BAD_MANIFEST" end
    return M.created(reg, repo, pick.digest, cost, platform)
  end
  if type(doc.config) ~= "table" or type(doc.config.digest) ~= "string" then
    return nil, ref .. ": no config", "BAD_MANIFEST"
  end
  cost.configs = (cost.configs or 0) + 1
  local cfg
  cfg, err, code = reg:blob(repo, doc.config.digest, { max_size = 4 * 1024 * 1024 })
  if not cfg then return nil, err, code end
  local c = json.decode(cfg)
  local t = type(c) == "table" and M.parse_time(c.created)
  if not t then return nil, ref .. ": the config has no creation time", "BAD_MANIFEST" end
  return t
end

--- The latest n tags by creation time (newest first). Only candidates are inspected:
--- opts.filter(tag) -> bool picks them (default: every tag), opts.since (seconds) drops
--- older ones, opts.concurrency bounds the GETs (8). Returns tags, cost
--- ({manifests, configs}: the GETs it took) — inspecting costs two requests per tag.
function M.latest_created(reg, repo, n, opts)
  opts = check.options(opts, { "filter", "since", "concurrency", "platform" }, "latest_created options")
  local tags, err, code = reg:tags(repo)
  if not tags then return nil, err, code end
  local cands = {}
  for _, t in ipairs(tags) do if not opts.filter or opts.filter(t) then cands[#cands + 1] = t end end
  local cost = { manifests = 0, configs = 0, candidates = #cands }
  local times = sched.map(cands, opts.concurrency or 8, function(t)
    local when = M.created(reg, repo, t, cost, opts.platform)
    return when or false
  end)
  local dated = {}
  for i, t in ipairs(cands) do
    if times[i] and (not opts.since or times[i] >= opts.since) then dated[#dated + 1] = { tag = t, at = times[i] } end
  end
  table.sort(dated, function(a, b) if a.at ~= b.at then return a.at > b.at end return a.tag < b.tag end)
  local out = {}
  for i = 1, math.min(n or #dated, #dated) do out[i] = dated[i].tag end
  return out, cost
end

--- The copies a mirror spec makes of some tags of one source repository, appended to out:
--- {repo, tag, reg, drepo, dtag} for each destination its map names.
function M.targets(spec, repo, tags, out)
  local dests = spec.to.tags and { spec.to } or spec.to
  for _, tag in ipairs(tags) do
    for _, dst in ipairs(dests) do
      local outs
      if spec.map then
        local a, b = spec.map(repo, tag, dst)
        if type(a) == "table" then outs = a else outs = { { dst, a, b } } end
      else
        outs = { { dst, repo, tag } }
      end
      for _, o in ipairs(outs) do
        local reg, drepo, dtag = o[1] or o.registry or dst, o[2] or o.repo, o[3] or o.tag or tag
        require("isync.rename").check(reg:repo(drepo), "isync.mirror map(" .. repo .. ")")
        out[#out + 1] = { repo = repo, tag = tag, reg = reg, drepo = drepo, dtag = dtag }
      end
    end
  end
  return out
end

--- spec.on_new_repo for each destination repository of targets that has no tags yet
--- (asked once each); their names are appended to known_new.
function M.new_repos(spec, targets, known_new)
  if not spec.on_new_repo then return end
  local seen, check = {}, {}
  for _, t in ipairs(targets) do
    local k = t.reg.name .. "/" .. t.reg:repo(t.drepo)
    if not seen[k] then seen[k] = true; check[#check + 1] = t end
  end
  sched.map(check, 8, function(t)
    local tags = t.reg:tags(t.drepo, { missing_ok = true })
    if tags and #tags == 0 then
      known_new[#known_new + 1] = t.reg.name .. "/" .. t.reg:repo(t.drepo)
      spec.on_new_repo(t.reg, t.reg:repo(t.drepo))
    end
  end)
end

--- A mirror kept in sync. spec:
---   from         the source registry
---   to           the destination registry (or a list of them)
---   repos        a list of source repositories, or a function returning one (default: the catalog)
---   tags         function(repo, tags) -> the tags to copy (default: all)
---   map          function(repo, tag, to) -> destination repo, tag; or a list of {registry, repo, tag}
---                (default: the same repository and tag on each destination)
---   on_new_repo  function(registry, repo): called once before the first copy into a
---                destination repository that has no tags yet (create it where needed)
---   priority     function(repo, tag) -> number: higher first
---   plan         options for isync.plan (concurrency, ledger, report, dry_run, ...)
---   every        seconds: run again and again, waiting this long between runs
---   times        with every: how many runs (default: forever)
--- Returns the last run's report.
local MIRROR_SPEC = { "from", "to", "repos", "tags", "map", "on_new_repo", "priority", "plan", "every", "times" }
function M.mirror(spec)
  if type(spec) ~= "table" then check.fail("isync.mirror: a spec table is needed") end
  check.options(spec, MIRROR_SPEC, "isync.mirror spec")
  if not (spec.from and spec.to) then check.fail("isync.mirror: from and to are needed") end
  local runs, report = 0, nil
  repeat
    runs = runs + 1
    local plan = plan_mod.new(spec.plan)
    local known_new = {}
    sched.run(function()
      local repos = spec.repos
      if type(repos) == "function" then repos = repos() end
      if repos == nil then
        local err, code
        repos, err, code = spec.from:catalog()
        if not repos then error("isync.mirror: cannot list the source's repositories: " .. err .. " (" .. code .. ")", 0) end
      end
      local listed = sched.map(repos, 8, function(repo)
        local tags, err, code = spec.from:tags(repo)
        if not tags then return { err = err, code = code } end
        table.sort(tags)
        if spec.tags then tags = spec.tags(repo, tags) or {} end
        return { tags = tags }
      end)
      local targets = {}
      for i, repo in ipairs(repos) do
        local l = listed[i]
        if not l.tags then
          plan:fail(spec.from.name .. "/" .. repo, "(every destination)", l.err, l.code)
        else
          M.targets(spec, repo, l.tags, targets)
        end
      end
      M.new_repos(spec, targets, known_new)
      for _, t in ipairs(targets) do
        plan:copy(spec.from:ref(t.repo, t.tag), t.reg:ref(t.drepo, t.dtag),
          { priority = spec.priority and spec.priority(t.repo, t.tag) or 0 })
      end
    end)
    report = plan:run()
    report.new_repos = known_new
    if spec.every and (not spec.times or runs < spec.times) then sched.sleep(spec.every) end
  until not spec.every or (spec.times and runs >= spec.times)
  return report
end

return M
