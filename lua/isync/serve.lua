-- isync.serve: a mirror kept in sync for as long as the process runs. Full passes every
-- so often, and between them the registry's push notifications (distribution's
-- notifications endpoint, Harbor's webhook) sync each pushed tag the config maps at once.
-- An HTTP server (src/service/httpd.c, libmicrohttpd) takes the webhooks, checks the
-- shared secret and queues them; Lua takes the queue from a task. /metrics serves a
-- snapshot of the counters kept here; /healthz says whether the last pass ran and the
-- Lua loop still turns.
--
--   isync.serve { from = src, to = dst, repos = {...}, every = 3600,
--                 listen = "127.0.0.1:8080", secret = os.getenv("ISYNC_WEBHOOK_SECRET") }
local core = require "isync.core"
local sched = require "isync.sched"
local check = require "isync.check"
local plan_mod = require "isync.plan"
local policy = require "isync.policy"
local ledger_mod = require "isync.ledger"
local log_mod = require "isync.log"
local metrics_mod = require "isync.metrics"
local webhook = require "isync.webhook"

local M = {}

--- Values for keys a policy's isync.serve{} leaves out: `isync serve POLICY.lua` sets
--- them from its flags (listen, secret, every, log, plan).
M.defaults = {}

local OPTS = { "listen", "secret", "every", "pass", "route", "plan", "log", "stale_after", "on_ready", "aliases",
  "poll", "stop_when", "from", "to", "repos", "tags", "map", "on_new_repo", "priority" }
local DEFAULT_LISTEN = "127.0.0.1:8080"

--- "HOST:PORT", "[V6]:PORT", ":PORT" (every address) or "PORT" (loopback) -> address, port.
function M.parse_listen(s)
  if type(s) ~= "string" then return nil, "the listen address must be a string" end
  local host, port = s:match("^%[([%x:.]+)%]:(%d+)$")
  if not host then host, port = s:match("^([^:]*):(%d+)$") end
  if not host and s:match("^%d+$") then host, port = "127.0.0.1", s end
  port = tonumber(port)
  if not port or port > 65535 then return nil, ("listen address %q: HOST:PORT, [V6]:PORT, :PORT or PORT"):format(s) end
  if host == "" then host = "0.0.0.0" end
  if host == "localhost" then host = "127.0.0.1" end
  return host, math.tointeger(port)
end

local function declare(m)
  m:counter("isync_images_copied_total", "Images copied to a destination (full passes and webhooks).")
  m:counter("isync_images_unchanged_total", "Images found already in sync (two HEADs, nothing moved).")
  m:counter("isync_bytes_copied_total", "Blob bytes uploaded to destinations by image copies.")
  m:counter("isync_image_failures_total", "Images that failed, by isync error code.")
  m:counter("isync_retries_total", "Requests retried after a transient failure, by registry.")
  m:histogram("isync_request_duration_seconds", "Registry request latency (each attempt), by registry and operation.")
  m:counter("isync_passes_total", "Full passes, by result (ok: it ran; error: it could not run).")
  m:gauge("isync_last_pass_timestamp_seconds", "Unix time the last full pass ended.")
  m:gauge("isync_last_successful_pass_timestamp_seconds", "Unix time the last full pass with no failed image ended.")
  m:gauge("isync_last_pass_duration_seconds", "How long the last full pass took.")
  m:gauge("isync_last_pass_failed_images", "Images the last full pass could not sync.")
  m:counter("isync_webhook_events_total", "Pushed tags named by webhooks, by result (synced, failed, ignored: not mapped, invalid: unreadable payload).")
  m:histogram("isync_webhook_sync_seconds", "From a webhook's arrival to its tags synced.",
    { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300 })
  for _, n in ipairs { "isync_images_copied_total", "isync_images_unchanged_total", "isync_bytes_copied_total",
                       "isync_last_pass_timestamp_seconds", "isync_last_successful_pass_timestamp_seconds",
                       "isync_last_pass_duration_seconds", "isync_last_pass_failed_images" } do
    m:set(n, nil, 0)
  end
end

-- A report's images into the counters; returns destination -> entry.
local function account(m, report)
  local by = {}
  for _, e in ipairs(report.images or {}) do
    by[e.destination] = e
    if e.status == "copied" or e.status == "retagged" then
      m:inc("isync_images_copied_total")
      m:inc("isync_bytes_copied_total", nil, e.stats and e.stats.bytes or 0)
    elseif e.status == "skipped" then
      m:inc("isync_images_unchanged_total")
    elseif e.status == "failed" then
      m:inc("isync_image_failures_total", { code = e.code or "INTERNAL" })
    end
  end
  return by
end

local function interrupted(err) return type(err) == "string" and err:match("^interrupted") ~= nil end

--- Runs until interrupted (or spec.stop_when() is true). spec: the keys of isync.mirror
--- (from, to, repos, tags, map, on_new_repo, priority, plan), or instead of them
---   pass         function(plan_opts) -> report: one full pass (plan_opts: spec.plan with the
---                shared ledger and the log)
---   route        function(host, repo, tag) -> {{src = ref, dst = ref}, ...} | nil, why:
---                the copies a pushed tag makes
--- and: listen ("127.0.0.1:8080"), secret (the webhooks' Authorization: "Bearer <secret>"
--- or "<secret>"; false: no webhook endpoint), every (seconds between full passes, 3600;
--- false or 0: only the one at start), log, aliases ({host = name}: push notifications
--- naming the source by another host name), stale_after (seconds without a turn of the
--- Lua loop before /healthz fails, 60), on_ready(port), poll (seconds, 0.02).
function M.serve(spec)
  if type(spec) ~= "table" then check.fail("isync.serve: a spec table is needed") end
  check.options(spec, OPTS, "isync.serve spec")
  local d = M.defaults
  local function opt(k, default)
    if spec[k] ~= nil then return spec[k] end
    if d[k] ~= nil then return d[k] end
    return default
  end
  local mirror_form = spec.from ~= nil or spec.to ~= nil
  if mirror_form and (spec.pass or spec.route) then check.fail("isync.serve: either from/to or pass/route, not both") end
  if not mirror_form and not (spec.pass and spec.route) then check.fail("isync.serve: from and to (or pass and route) are needed") end
  if mirror_form and not (spec.from and spec.to) then check.fail("isync.serve: from and to are needed") end
  local address, port = M.parse_listen(opt("listen", DEFAULT_LISTEN))
  if not address then error(port, 0) end
  local secret = opt("secret")
  if secret ~= false and (type(secret) ~= "string" or secret == "") then
    error("isync.serve: a webhook secret is needed (secret = ..., ISYNC_WEBHOOK_SECRET or --secret-file; false for no webhooks)", 0)
  end
  local every = opt("every", 3600)
  if every == 0 then every = false end
  local log = opt("log")
  if type(log) ~= "table" or not log.info then log = log_mod.new(log) end
  local aliases = spec.aliases or {}

  -- one ledger for every run: passes and webhook batches run at once and share it
  local plan_opts = {}
  for k, v in pairs(opt("plan", {})) do plan_opts[k] = v end
  local ledger
  if plan_opts.ledger ~= false and type(plan_opts.ledger) ~= "table" then
    local err
    ledger, err = ledger_mod.open(plan_opts.ledger)
    if not ledger then error(err, 0) end
    plan_opts.ledger = ledger
  end
  plan_opts.log = log
  local batch_opts = {}   -- a webhook's plan: no report or output files of its own
  for k, v in pairs(plan_opts) do batch_opts[k] = v end
  batch_opts.report, batch_opts.output_failed, batch_opts.output_success = nil, nil, nil

  local pass, route = spec.pass, spec.route
  if mirror_form then
    local mspec = {}
    for _, k in ipairs { "from", "to", "repos", "tags", "map", "on_new_repo", "priority" } do mspec[k] = spec[k] end
    pass = function(popts)
      mspec.plan = popts
      return policy.mirror(mspec)
    end
    route = function(host, repo, tag)
      local from = spec.from
      if host and host ~= from.name and aliases[host] ~= from.name then
        return nil, "pushed to " .. host .. ", not the source " .. from.name
      end
      repo = from:repo(repo)
      local repos = spec.repos
      if type(repos) == "function" then repos = repos() end
      if repos then
        local found = false
        for _, r in ipairs(repos) do if from:repo(r) == repo then found = true end end
        if not found then return nil, repo .. " is not one of the mirrored repositories" end
      end
      if spec.tags then
        local all, err, code = from:tags(repo)
        if not all then return nil, ("cannot list %s: %s (%s)"):format(repo, err, code) end
        table.sort(all)
        local chosen = false
        for _, t in ipairs(spec.tags(repo, all) or {}) do if t == tag then chosen = true end end
        if not chosen then return nil, tag .. " is not one of the tags the policy chooses" end
      end
      local targets = policy.targets(spec, repo, { tag }, {})
      policy.new_repos(spec, targets, {})
      local out = {}
      for i, t in ipairs(targets) do out[i] = { src = from:ref(repo, tag), dst = t.reg:ref(t.drepo, t.dtag) } end
      return out
    end
  end

  local m = metrics_mod.new()
  declare(m)
  local isync = require "isync"
  local saved_req, saved_retry = isync.on_request, isync.on_request_retry
  isync.on_request = function(reg, op, seconds, code)
    m:observe("isync_request_duration_seconds", { registry = reg.name, op = op }, seconds)
    if saved_req then saved_req(reg, op, seconds, code) end
  end
  isync.on_request_retry = function(reg, op, code)
    m:inc("isync_retries_total", { registry = reg.name })
    if saved_retry then saved_retry(reg, op, code) end
  end

  local server <close>, err = core.httpd { address = address, port = port, secret = secret or nil,
                                           stale_after = opt("stale_after", 60) }
  if not server then
    isync.on_request, isync.on_request_retry = saved_req, saved_retry
    error("isync serve: " .. err, 0)
  end
  local shown = address:find(":", 1, true) and ("[" .. address .. "]") or address
  log:info(("isync serve: listening on http://%s:%d (POST /webhook%s, GET /metrics, GET /healthz)"):format(
    shown, server:port(), secret and "" or " disabled"))
  server:health(true, "serving; the first pass is running")
  server:metrics(m:render())

  local running, rendered, rendered_at = true, m.version, core.monotime()
  local function publish(force)
    if m.version == rendered then return end
    if not force and core.monotime() - rendered_at < 0.25 then return end
    server:metrics(m:render())
    rendered, rendered_at = m.version, core.monotime()
  end
  local function stop_now() return not running or (spec.stop_when and spec.stop_when()) end

  local function pass_loop()
    local n = 0
    repeat
      n = n + 1
      local t0 = core.monotime()
      log:info(("isync serve: full pass %d"):format(n))
      local ok, report = pcall(pass, plan_opts)
      if not ok and interrupted(report) then error(report, 0) end
      local now = os.time()
      m:set("isync_last_pass_duration_seconds", nil, core.monotime() - t0)
      if ok then
        account(m, report)
        m:inc("isync_passes_total", { result = "ok" })
        m:set("isync_last_pass_timestamp_seconds", nil, now)
        m:set("isync_last_pass_failed_images", nil, report.failed or 0)
        if (report.failed or 0) == 0 then m:set("isync_last_successful_pass_timestamp_seconds", nil, now) end
        server:health(true, ("last pass %s: %d copied, %d unchanged, %d failed"):format(
          os.date("!%Y-%m-%dT%H:%M:%SZ", now), report.copied or 0, report.skipped or 0, report.failed or 0))
      else
        m:inc("isync_passes_total", { result = "error" })
        log:error("isync serve: the full pass failed: " .. tostring(report))
        server:health(false, "last pass failed: " .. log_mod.clean(tostring(report)))
      end
      publish(true)
      if every then sched.sleep(every) end
    until not every or stop_now()
  end

  -- One batch: every queued webhook, each pushed tag routed, one plan for all of them.
  local function handle(events)
    server:inflight(#events)
    local plan, keyed, waiting = plan_mod.new(batch_opts), {}, {}
    for _, ev in ipairs(events) do
      ev.keys = {}
      local pushes, kind = webhook.parse(ev.body)
      if not pushes then
        m:inc("isync_webhook_events_total", { result = "invalid" })
        log:error("isync serve: webhook " .. ev.path .. ": " .. kind)
      end
      for _, p in ipairs(pushes or {}) do
        local host = p.host and (aliases[p.host] or p.host)
        local ok, list, why = pcall(route, host, p.repo, p.tag)
        if not ok then list, why = nil, tostring(list) end
        local name = ("%s/%s:%s"):format(p.host or "?", p.repo, p.tag)
        if not list or #list == 0 then
          m:inc("isync_webhook_events_total", { result = "ignored" })
          log:verbose(("isync serve: push of %s: not synced (%s)"):format(name, why or "no rule maps it"))
        else
          log:info(("isync serve: push of %s (%s webhook): syncing %d image%s"):format(name, kind, #list, #list == 1 and "" or "s"))
          local mine = {}
          for _, pair in ipairs(list) do
            local key = plan_mod.ref_string(pair.dst)
            if not keyed[key] then keyed[key] = true; plan:copy(pair.src, pair.dst) end
            mine[#mine + 1] = key
          end
          waiting[#waiting + 1] = { ev = ev, keys = mine }
        end
      end
    end
    if plan:size() > 0 then
      local by = account(m, plan:run())
      local now = core.monotime()
      for _, w in ipairs(waiting) do
        local failed = false
        for _, k in ipairs(w.keys) do if not by[k] or by[k].status == "failed" then failed = true end end
        m:inc("isync_webhook_events_total", { result = failed and "failed" or "synced" })
        m:observe("isync_webhook_sync_seconds", nil, now - w.ev.received)
      end
    end
    server:inflight(0)
    publish(true)
  end

  local function event_loop()
    local poll = opt("poll", 0.02)
    while not stop_now() do
      local events = server:take()
      if #events > 0 then handle(events) else sched.sleep(poll) end
    end
  end

  -- the heartbeat /healthz watches, and the metrics snapshot, from a task of their own:
  -- a long webhook batch or pass does not stop them
  local function ticker()
    while not stop_now() do
      server:heartbeat()
      publish(false)
      sched.sleep(0.25)
    end
  end

  if spec.on_ready then spec.on_ready(server:port()) end
  local ok, run_err = pcall(sched.run, function()
    local t = sched.spawn(ticker)
    local e = sched.spawn(event_loop)
    local p = sched.spawn(pass_loop)
    -- the first task to fail stops the others; a finished pass loop (no `every`) does not
    local failed
    repeat
      sched.sleep(0.1)
      for _, task in ipairs { t, e, p } do if task.status == "failed" then failed = task end end
    until failed or (t.status == "done" and e.status == "done")
    running = false
    if failed then sched.wait(failed) end
  end)
  running = false
  isync.on_request, isync.on_request_retry = saved_req, saved_retry
  if ledger then ledger:close() end
  if not ok then error(run_err, 0) end
  return true
end

return M
