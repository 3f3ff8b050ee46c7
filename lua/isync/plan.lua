-- isync.plan: the sync engine for any list of (source, destination) image pairs.
--
--   local plan = isync.plan { concurrency = 16, retries = 2, ledger = ".isync/ledger" }
--   plan:copy(src:ref("library/nginx", "1.25"), dst:ref("mirror/nginx", "1.25"))
--   local report = plan:run()          -- or plan:run { dry_run = true }
--
-- It runs the pairs with a global limit (concurrency images at once; blob transfers share
-- a pool that starts the largest first), skips unchanged images after two HEADs, keeps the
-- ledger, retries transient failures (requests inside each image with backoff and
-- Retry-After, then whole images in extra rounds), shows progress, and ends with a report
-- naming every image: copied, skipped or failed and why.
local core = require "isync.core"
local sched = require "isync.sched"
local copy = require "isync.copy"
local ledger_mod = require "isync.ledger"
local log_mod = require "isync.log"
local report_mod = require "isync.report"
local retry = require "isync.retry"
local check = require "isync.check"

local M = {}
local Plan = {}
Plan.__index = Plan

local function ref_string(r) return copy.refname(r.registry.name, r.repo, r.ref) end
M.ref_string = ref_string

--- opts: concurrency (5), retries (image rounds after the first, 2), ledger (path, a ledger,
--- or false; default $XDG_STATE_HOME/isync/ledger), force, dry_run, referrers, platforms
--- (isync.platform filter), blob_concurrency (2 x concurrency), chunk_size, buffer_size,
--- log (isync.log or options for one), report (JSON path), output_failed / output_success
--- (images-file paths; success lists only the images this run copied) with output_format ("yaml" | "json"), stall_budget (seconds of
--- stalled requests an image may spend, over all its requests and rounds; default one stall
--- timeout of the registry), max_retry_after (a longer Retry-After fails the image; 300).
local PLAN_OPTS = { "concurrency", "retries", "ledger", "force", "dry_run", "referrers", "platforms", "blob_concurrency",
  "blob_concurrency_per_image", "manifest_concurrency", "chunk_size", "buffer_size", "log", "report", "output_failed",
  "output_success", "output_format", "stall_budget", "max_retry_after" }
function M.new(opts)
  opts = check.options(opts, PLAN_OPTS, "isync.plan options")
  check.positive(opts, { "stall_budget", "max_retry_after" }, "isync.plan options")
  check.positive(opts, { "concurrency", "blob_concurrency" }, "isync.plan options", true)
  return setmetatable({ opts = opts, items = {} }, Plan)
end

--- Adds one copy. src and dst come from registry:ref(repo, ref); dst.ref defaults to src.ref.
--- extra: {priority = n} (higher first), {label = "..."}.
function Plan:copy(src, dst, extra)
  if not (type(src) == "table" and src.registry and src.repo and src.ref) then
    check.fail("plan:copy: a source ref is needed (argument 1: registry:ref(repo, tag))")
  end
  if not (type(dst) == "table" and dst.registry and dst.repo) then
    check.fail("plan:copy: a destination ref is needed (argument 2: registry:ref(repo[, tag]))")
  end
  check.options(extra, { "priority", "label" }, "plan:copy options")
  local d = { registry = dst.registry, repo = dst.repo, ref = dst.ref or src.ref }
  self.items[#self.items + 1] = { src = src, dst = d, priority = extra and extra.priority or 0, n = #self.items + 1,
                                  label = extra and extra.label }
  return self
end

--- Records an image that failed before it could be planned (e.g. its tags could not be
--- listed); it appears in the report like any other failure.
function Plan:fail(source, destination, reason, code)
  self.failures = self.failures or {}
  self.failures[#self.failures + 1] = { source = source, destination = destination, status = "failed",
                                        reason = reason, code = code or "INTERNAL" }
  return self
end

function Plan:size() return #self.items end

local function merged(a, b)
  local out = {}
  for k, v in pairs(a or {}) do out[k] = v end
  for k, v in pairs(b or {}) do out[k] = v end
  return out
end

local function open_ledger(o)
  if o.ledger == false then return nil end
  if type(o.ledger) == "table" then return o.ledger, false end
  local l, err = ledger_mod.open(o.ledger)
  if not l then error(err, 0) end
  return l, true
end

local function describe_ok(res)
  local st = res.stats
  local parts = {}
  if st.blobs_copied > 0 then parts[#parts + 1] = st.blobs_copied .. " blobs copied" end
  if st.blobs_mounted > 0 then parts[#parts + 1] = st.blobs_mounted .. " mounted" end
  if st.blobs_skipped > 0 then parts[#parts + 1] = st.blobs_skipped .. " present" end
  if #parts == 0 then parts[1] = "no blob moved" end
  if (st.referrers_copied or 0) > 0 then parts[#parts + 1] = st.referrers_copied .. (st.referrers_copied == 1 and " referrer" or " referrers") end
  return table.concat(parts, ", ") .. ", " .. report_mod.human(st.bytes)
end

--- The report entry of one copy's outcome (copy.image's results); isync.queue's workers
--- record the same.
function M.entry(source, destination, seconds, res, err, code)
  local entry = { source = source, destination = destination, seconds = seconds }
  if res then
    entry.status, entry.digest, entry.source_digest = res.status, res.digest, res.source_digest
    entry.stats, entry.note, entry.reason = res.stats, res.note, res.reason
  else
    entry.status, entry.reason, entry.code = "failed", err, code
  end
  return entry
end

--- The log line of one image's final outcome.
function M.log_outcome(log, entry)
  if entry.status == "failed" then
    log:error(("FAILED  %s -> %s: %s (%s)"):format(entry.source, entry.destination, entry.reason, entry.code))
  elseif entry.status == "skipped" and entry.stats and (entry.stats.referrers_copied or 0) + (entry.stats.referrer_tags or 0) > 0 then
    log:info(("unchanged %s -> %s %s; its referrers: %s"):format(entry.source, entry.destination, entry.digest, describe_ok(entry)))
  elseif entry.status == "skipped" then
    log:verbose(("skipped %s -> %s %s%s"):format(entry.source, entry.destination, entry.digest,
      entry.reason and (" (" .. entry.reason .. ")") or " (unchanged)"))
  else
    log:info(("%s %s -> %s %s (%s)%s"):format(entry.status, entry.source, entry.destination, entry.digest,
      describe_ok(entry), entry.note and ("; " .. entry.note) or ""))
  end
end

--- Shows every retry of a request in log (verbose level) until the returned function is called.
function M.log_retries(log)
  local isync = require "isync"
  local saved = isync.on_retry
  isync.on_retry = function(reg, op, err, code, delay, attempt)
    log:verbose(("retry %s on %s in %.1fs (attempt %d): %s (%s)"):format(op, reg.name, delay, attempt + 1, err, code))
    if saved then saved(reg, op, err, code, delay, attempt) end
  end
  return function() isync.on_retry = saved end
end

--- Runs every copy; returns the report (report.failed == 0 when all went well).
function Plan:run(run_opts)
  local o = merged(self.opts, check.options(run_opts, PLAN_OPTS, "plan:run options"))
  local log = o.log
  if type(log) ~= "table" or not log.info then log = log_mod.new(log) end
  local concurrency = o.concurrency or 5
  local ledger, own_ledger = open_ledger(o)
  local report = report_mod.new(o.dry_run)
  local blob_sem = sched.semaphore(o.blob_concurrency or 2 * concurrency)
  local t0 = core.monotime()
  local up0 = core.bytes_uploaded()
  local done_count, running = 0, true
  local total = #self.items + #(self.failures or {})

  local function status_line()
    local dt = core.monotime() - t0
    local up = core.bytes_uploaded() - up0
    return ("isync: %d/%d images, %d failed, %s moved, %s/s"):format(done_count, total, report.failed,
      report_mod.human(up), report_mod.human(dt > 0 and up / dt or 0))
  end

  for _, f in ipairs(self.failures or {}) do
    report:add(f)
    done_count = done_count + 1
    log:error(("FAILED  %s -> %s: %s (%s)"):format(f.source, f.destination, f.reason, f.code))
  end
  local items = {}
  for i, it in ipairs(self.items) do items[i] = it end
  table.sort(items, function(a, b)
    if a.priority ~= b.priority then return a.priority > b.priority end
    return a.n < b.n
  end)

  local copy_opts = { force = o.force, dry_run = o.dry_run, ledger = ledger, platforms = o.platforms, referrers = o.referrers,
                      blob_sem = blob_sem, chunk_size = o.chunk_size, buffer_size = o.buffer_size,
                      blob_concurrency = o.blob_concurrency_per_image, manifest_concurrency = o.manifest_concurrency }

  -- One retry budget per image, kept across rounds: a stall or a refused connection
  -- spends it, and then the image gets no further round (isync.retry).
  local budgets = {}   -- per run: a later run of the same plan starts afresh
  local function budget_of(it)
    budgets[it] = budgets[it] or retry.budget { stall = o.stall_budget, max_retry_after = o.max_retry_after }
    return budgets[it]
  end

  local function sync_one(it)
    local started = core.monotime()
    local res, err, code
    if it.final then
      res, err, code = it.final.res, it.final.err, it.final.code
    else
      local o2 = setmetatable({ prepared = it.prepared, budget = budget_of(it) }, { __index = copy_opts })
      it.prepared = nil   -- the cached manifests are not needed after this copy
      res, err, code = copy.image(it.src.registry, it.src.repo, it.src.ref, it.dst.registry, it.dst.repo, it.dst.ref, o2)
    end
    it.final = nil
    return M.entry(ref_string(it.src), ref_string(it.dst), core.monotime() - started + (it.prep_seconds or 0), res, err, code)
  end

  local restore = M.log_retries(log)
  local ticker
  local run_ok, run_err = pcall(sched.run, function()
    ticker = sched.spawn(function()
      local last_log = core.monotime()
      while running do
        sched.sleep(0.25)
        if running then
          log:set_status(status_line())
          if not log.tty and core.monotime() - last_log >= 10 then
            last_log = core.monotime()
            log:info(status_line())
          end
        end
      end
    end)
    -- In batches: first the cheap half of every copy (the unchanged check and the source
    -- manifests, many at once on the metadata pool), then the copies, the images with the
    -- largest blobs first, so the longest transfers start early instead of ending the run.
    local function prepare_batch(batch)
      if o.platforms then return batch end   -- the filter's own checks need the full path
      sched.map(batch, math.max(4 * concurrency, 16), function(it)
        local t = core.monotime()
        local res, err, code = copy.prepare(it.src.registry, it.src.repo, it.src.ref, it.dst.registry, it.dst.repo,
                                            it.dst.ref, setmetatable({ budget = budget_of(it) }, { __index = copy_opts }))
        it.prep_seconds = core.monotime() - t
        if res and res.status == "prepared" then it.prepared, it.weight = res, res.weight
        else it.final, it.weight = { res = res, err = err, code = code }, -1 end
      end)
      local sorted = {}
      for i, it in ipairs(batch) do sorted[i] = it end
      table.sort(sorted, function(a, b)
        if a.weight ~= b.weight then return a.weight > b.weight end
        return a.n < b.n
      end)
      return sorted
    end
    local BATCH = 256
    local first = {}
    for start = 1, #items, BATCH do
      first[#first + 1] = { table.unpack(items, start, math.min(start + BATCH - 1, #items)) }
    end
    -- one image: copy it, then either queue it for another round or record its outcome
    local function run_one(it, round, again)
      local entry = sync_one(it)
      if entry.status == "failed" and retry.transient(entry.code) and not (budgets[it] and budgets[it].final) and round < (o.retries or 2) then
        again[#again + 1] = it
        log:verbose(("retry later %s: %s"):format(entry.source, entry.reason))
        return
      end
      done_count = done_count + 1
      it.reported = true
      report:add(entry)
      M.log_outcome(log, entry)
    end
    local pending = items
    for round = 0, o.retries or 2 do
      local again = {}
      for _, batch in ipairs(round == 0 and first or { pending }) do
        if round == 0 then batch = prepare_batch(batch) end
        sched.map(batch, concurrency, function(it) run_one(it, round, again) end)
      end
      if #again == 0 then break end
      log:info(("round %d: retrying %d image%s"):format(round + 1, #again, #again == 1 and "" or "s"))
      sched.sleep(math.min(2 ^ round, 10))
      pending = again
    end
    running = false
    sched.wait(ticker)
  end)
  running = false

  restore()
  if not run_ok then
    -- Ctrl-C (or a failing hook) ended the run: what finished is still reported, and every
    -- image that had not is named, so the report and summary say exactly what is done.
    local interrupted = type(run_err) == "string" and run_err:match("^interrupted") ~= nil
    for _, it in ipairs(items) do
      if not it.reported then
        report:add({ source = ref_string(it.src), destination = ref_string(it.dst),
                     status = interrupted and "interrupted" or "failed", code = interrupted and "INTERRUPTED" or "INTERNAL",
                     reason = interrupted and "interrupted before it finished" or tostring(run_err) })
      end
    end
  end
  if ledger then
    local ok, err
    if own_ledger then ok, err = ledger:close() else ok, err = ledger:sync() end
    if not ok then log:error("ledger: " .. tostring(err)) end
  end
  report:finish(core.monotime() - t0)
  log:clear_status()
  log:summary(report:summary())
  local function try(ok, err) if not ok then log:error(err) end end
  if o.report then try(report:write_json(o.report)) end
  if o.output_failed then try(report:write_images(o.output_failed, { failed = true, interrupted = true }, o.output_format)) end
  if o.output_success then
    -- as image-syncer: only images this run copied; unchanged or filtered-out ones are in
    -- the report, not here
    try(report:write_images(o.output_success, { copied = true }, o.output_format))
  end
  if o.log ~= log then log:close() end
  if not run_ok then error(run_err, 0) end   -- the caller still sees why the run ended
  return report
end

M.Plan = Plan
return M
