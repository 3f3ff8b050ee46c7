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
--- or false; default $XDG_STATE_HOME/isync/ledger), force, dry_run, referrers, trust_ledger, platforms
--- (isync.platform filter), blob_concurrency (2 x concurrency), chunk_size, buffer_size,
--- log (isync.log or options for one), report (JSON path), output_failed / output_success
--- (images-file paths; success lists only the images this run copied) with output_format ("yaml" | "json"), stall_budget (seconds of
--- stalled requests an image may spend, over all its requests and rounds; default one stall
--- timeout of the registry), max_retry_after (a longer Retry-After fails the image; 300),
--- on_retry (function(registry, op, message, code, delay, attempt): told of the retries of
--- this plan's runs only, before isync.on_retry, which is told of every retry).
local PLAN_OPTS = { "concurrency", "retries", "ledger", "force", "dry_run", "referrers", "platforms", "blob_concurrency",
  "trust_ledger",
  "blob_concurrency_per_image", "manifest_concurrency", "chunk_size", "buffer_size", "log", "report", "output_failed",
  "output_success", "output_format", "stall_budget", "max_retry_after", "on_retry" }
function M.new(opts)
  opts = check.options(opts, PLAN_OPTS, "isync.plan options")
  check.positive(opts, { "stall_budget", "max_retry_after" }, "isync.plan options")
  check.positive(opts, { "concurrency", "blob_concurrency" }, "isync.plan options", true)
  if opts.on_retry ~= nil and type(opts.on_retry) ~= "function" then
    check.fail("isync.plan options: on_retry must be a function, not a " .. type(opts.on_retry))
  end
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

local function log_retry(log, reg, op, err, code, delay, attempt)
  log:verbose(("retry %s on %s in %.1fs (attempt %d): %s (%s)"):format(op, reg.name, delay, attempt + 1, err, code))
end

--- Shows every retry of a request in the process in log (verbose level) until the returned
--- function is called: for commands, around work outside plans (a plan's run logs its own).
function M.log_retries(log)
  local isync = require "isync"
  local saved = isync.on_retry
  isync.on_retry = function(reg, op, err, code, delay, attempt)
    log_retry(log, reg, op, err, code, delay, attempt)
    if saved then saved(reg, op, err, code, delay, attempt) end
  end
  return function() isync.on_retry = saved end
end

-- One run of a plan: its options, log, ledger, report, counters, and what it learns of
-- each image (state[item]: budget, prepared, final, weight, prep_seconds, reported). Kept
-- here and not on the plan, so a later run of the same plan starts afresh and an ended
-- run leaves nothing behind.
local Run = {}
Run.__index = Run

local BATCH = 256   -- images prepared at once before their copies start

local function new_run(plan, run_opts)
  local o = merged(plan.opts, check.options(run_opts, PLAN_OPTS, "plan:run options"))
  local log = o.log
  if type(log) ~= "table" or not log.info then log = log_mod.new(log) end
  local concurrency = o.concurrency or 5
  local ledger, own_ledger = open_ledger(o)
  local run = setmetatable({ plan = plan, o = o, log = log, concurrency = concurrency, ledger = ledger,
    own_ledger = own_ledger, report = report_mod.new(o.dry_run), t0 = core.monotime(), up0 = core.bytes_uploaded(),
    done_count = 0, total = #plan.items + #(plan.failures or {}), state = {}, running = false }, Run)
  run.copy_opts = { force = o.force, dry_run = o.dry_run, ledger = ledger, trust_ledger = o.trust_ledger, platforms = o.platforms,
    referrers = o.referrers, blob_sem = sched.semaphore(o.blob_concurrency or 2 * concurrency),
    chunk_size = o.chunk_size, buffer_size = o.buffer_size, blob_concurrency = o.blob_concurrency_per_image,
    manifest_concurrency = o.manifest_concurrency, session = copy.session() }
  return run
end

function Run:state_of(it)
  local st = self.state[it]
  if not st then st = {}; self.state[it] = st end
  return st
end

-- One retry budget per image, kept across rounds: a stall or a refused connection spends
-- it, and then the image gets no further round (isync.retry).
function Run:budget_of(it)
  local st = self:state_of(it)
  st.budget = st.budget or retry.budget { stall = self.o.stall_budget, max_retry_after = self.o.max_retry_after }
  return st.budget
end

-- The options of one call into isync.copy for it: the run's, with the image's budget.
function Run:copy_opts_of(it, extra)
  extra = extra or {}
  extra.budget = self:budget_of(it)
  return setmetatable(extra, { __index = self.copy_opts })
end

-- Told of every retry of a request made by this run (and only those: the hook travels
-- in the task context, not in a global), before isync.on_retry.
function Run:on_retry(reg, op, err, code, delay, attempt)
  log_retry(self.log, reg, op, err, code, delay, attempt)
  if self.o.on_retry then self.o.on_retry(reg, op, err, code, delay, attempt) end
end

function Run:status_line()
  local dt = core.monotime() - self.t0
  local up = core.bytes_uploaded() - self.up0
  return ("isync: %d/%d images, %d failed, %s moved, %s/s"):format(self.done_count, self.total, self.report.failed,
    report_mod.human(up), report_mod.human(dt > 0 and up / dt or 0))
end

-- The progress line, refreshed four times a second until stop_ticker; without a terminal
-- a log line every 10 s instead.
function Run:start_ticker()
  self.running = true
  self.ticker = sched.spawn(function()
    local last_log = core.monotime()
    while self.running do
      sched.sleep(0.25)
      if self.running then
        self.log:set_status(self:status_line())
        if not self.log.tty and core.monotime() - last_log >= 10 then
          last_log = core.monotime()
          self.log:info(self:status_line())
        end
      end
    end
  end)
end

function Run:stop_ticker()
  self.running = false
  sched.wake(self.ticker)   -- not after the rest of its 250 ms sleep: that held up every run
  sched.wait(self.ticker)
end

-- The images plan:fail recorded: failed before they could be planned.
function Run:report_early_failures()
  for _, f in ipairs(self.plan.failures or {}) do
    self.report:add(f)
    self.done_count = self.done_count + 1
    self.log:error(("FAILED  %s -> %s: %s (%s)"):format(f.source, f.destination, f.reason, f.code))
  end
end

-- The plan's images, higher priorities first, then in the order they were added.
function Run:by_priority()
  local items = {}
  for i, it in ipairs(self.plan.items) do items[i] = it end
  table.sort(items, function(a, b)
    if a.priority ~= b.priority then return a.priority > b.priority end
    return a.n < b.n
  end)
  return items
end

-- The cheap half of one copy: the unchanged check and the source manifests (isync.copy
-- prepare). An image it settles (unchanged, or failed) keeps that result as final.
function Run:check_unchanged(it)
  local st, t = self:state_of(it), core.monotime()
  local res, err, code = copy.prepare(it.src.registry, it.src.repo, it.src.ref, it.dst.registry, it.dst.repo,
                                      it.dst.ref, self:copy_opts_of(it))
  st.prep_seconds = core.monotime() - t
  if res and res.status == "prepared" then st.prepared, st.weight = res, res.weight
  else st.final, st.weight = { res = res, err = err, code = code }, -1 end
end

-- The images with the largest blobs first, so the longest transfers start early instead
-- of ending the run.
local function order_by_size(batch, state)
  local sorted = {}
  for i, it in ipairs(batch) do sorted[i] = it end
  table.sort(sorted, function(a, b)
    local wa, wb = state[a].weight, state[b].weight
    if wa ~= wb then return wa > wb end
    return a.n < b.n
  end)
  return sorted
end

-- Prepares a batch, many at once on the metadata pool; returns it in the order to copy.
function Run:prepare_batch(batch)
  if self.o.platforms then return batch end   -- the filter's own checks need the full path
  sched.map(batch, math.max(4 * self.concurrency, 16), function(it) self:check_unchanged(it) end)
  return order_by_size(batch, self.state)
end

-- One image copied (or its prepared result taken): its report entry.
function Run:run_image(it)
  local st, started = self:state_of(it), core.monotime()
  local res, err, code
  if st.final then
    res, err, code = st.final.res, st.final.err, st.final.code
  else
    local prepared = st.prepared
    st.prepared = nil   -- the cached manifests are not needed after this copy
    res, err, code = copy.image(it.src.registry, it.src.repo, it.src.ref, it.dst.registry, it.dst.repo, it.dst.ref,
                                self:copy_opts_of(it, { prepared = prepared }))
  end
  st.final = nil
  return M.entry(ref_string(it.src), ref_string(it.dst), core.monotime() - started + (st.prep_seconds or 0), res, err, code)
end

-- An image's outcome, in the report and the log.
function Run:record(it, entry)
  self.done_count = self.done_count + 1
  self:state_of(it).reported = true
  self.report:add(entry)
  M.log_outcome(self.log, entry)
end

-- One image in round `round`: copy it, then either queue it in `again` for another round
-- (a transient failure, budget left, rounds left) or record its outcome.
function Run:run_one(it, round, again)
  local entry = self:run_image(it)
  local budget = self:state_of(it).budget
  if entry.status == "failed" and retry.transient(entry.code) and not (budget and budget.final)
      and round < (self.o.retries or 2) then
    again[#again + 1] = it
    self.log:verbose(("retry later %s: %s"):format(entry.source, entry.reason))
    return
  end
  self:record(it, entry)
end

-- Round 0, in batches: first the cheap half of every copy of the batch, then its copies.
-- Returns the images to try again.
function Run:first_round(items)
  local again = {}
  for start = 1, #items, BATCH do
    local batch = self:prepare_batch({ table.unpack(items, start, math.min(start + BATCH - 1, #items)) })
    sched.map(batch, self.concurrency, function(it) self:run_one(it, 0, again) end)
  end
  return again
end

-- A further round for the images a transient failure stopped, after a pause that grows
-- with the rounds. Returns the images to try again.
function Run:retry_round(round, pending)
  self.log:info(("round %d: retrying %d image%s"):format(round, #pending, #pending == 1 and "" or "s"))
  sched.sleep(math.min(2 ^ (round - 1), 10))
  local again = {}
  sched.map(pending, self.concurrency, function(it) self:run_one(it, round, again) end)
  return again
end

-- Every copy of the run, in its own task tree: the run's retry hook is in the context of
-- every task it starts. Returns true, or false and why the run ended early.
function Run:copy_all(items)
  local hook = function(...) return self:on_retry(...) end
  local ok, err = pcall(sched.run, function()
    return sched.with_context(sched.context_with { on_retry = hook }, function()
      self:start_ticker()
      local again = self:first_round(items)
      for round = 1, self.o.retries or 2 do
        if #again == 0 then break end
        again = self:retry_round(round, again)
      end
      self:stop_ticker()
    end)
  end)
  self.running = false
  return ok, err
end

-- After a run cut short (Ctrl-C, a failing hook): what finished is still reported, and
-- every image that had not is named, so the report and summary say exactly what is done.
function Run:name_unfinished(items, run_err)
  local interrupted = type(run_err) == "string" and run_err:match("^interrupted") ~= nil
  for _, it in ipairs(items) do
    if not self:state_of(it).reported then
      self.report:add({ source = ref_string(it.src), destination = ref_string(it.dst),
                        status = interrupted and "interrupted" or "failed", code = interrupted and "INTERRUPTED" or "INTERNAL",
                        reason = interrupted and "interrupted before it finished" or tostring(run_err) })
    end
  end
end

function Run:close_ledger()
  if not self.ledger then return end
  local ok, err
  if self.own_ledger then ok, err = self.ledger:close() else ok, err = self.ledger:sync() end
  if not ok then self.log:error("ledger: " .. tostring(err)) end
end

-- The summary, and the report and images files asked for.
function Run:finish_report()
  local o, log, report = self.o, self.log, self.report
  report:finish(core.monotime() - self.t0)
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
end

--- Runs every copy; returns the report (report.failed == 0 when all went well).
function Plan:run(run_opts)
  local run = new_run(self, run_opts)
  run:report_early_failures()
  local items = run:by_priority()
  local ok, err = run:copy_all(items)
  if not ok then run:name_unfinished(items, err) end
  run:close_ledger()
  run:finish_report()
  if not ok then error(err, 0) end   -- the caller still sees why the run ended
  return run.report
end

M.Plan = Plan
return M
