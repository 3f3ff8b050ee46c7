-- isync.queue: one sync spread over many processes and machines through Redis.
--
--   isync.queue.enqueue("redis://redis:6379/0", plan)       -- the pairs of a plan, into a stream
--   isync.queue.worker { url = ..., open = fn }             -- any number of these, anywhere
--   isync.queue.status { url = ..., report = "r.json" }     -- progress; the same report files
--
-- Redis holds the work and what is known, never a credential: each worker reads its own
-- auth files. Keys (PREFIX defaults to "isync"):
--   PREFIX:pairs            stream, one entry per image pair {n, src, dst, opts}; group "workers"
--   PREFIX:meta             hash: total (pairs enqueued), enqueued (1 once an enqueue ended), started
--   PREFIX:results          hash: n -> the pair's report entry (JSON), written before its XACK
--   PREFIX:failed           set of n: the pairs that failed for good
--   PREFIX:workers          hash: worker name -> its heartbeat (JSON: at, running, done)
--   PREFIX:lease:BASE|DIGEST  the blob's transfer lease (SET NX PX, renewed while copying)
--   PREFIX:blob:BASE|DIGEST   set of repositories of registry BASE that hold the blob
-- An entry is acknowledged only once its result is written; a worker that dies leaves its
-- entries pending, and after claim_idle seconds without its heartbeat touching them the
-- others take them over (XAUTOCLAIM). Commands are lower case: Redis does not mind.
local core = require "isync.core"
local sched = require "isync.sched"
local json = require "isync.json"
local copy = require "isync.copy"
local retry = require "isync.retry"
local plan_mod = require "isync.plan"
local report_mod = require "isync.report"

local M = {}

M.GROUP = "workers"
M.defaults = { prefix = "isync", claim_idle = 30, lease_ttl = 15, poll = 0.25, redis_wait = 300 }

local function keys(prefix)
  prefix = prefix or M.defaults.prefix
  return { stream = prefix .. ":pairs", meta = prefix .. ":meta", results = prefix .. ":results",
           failed = prefix .. ":failed", workers = prefix .. ":workers", lease = prefix .. ":lease:",
           blob = prefix .. ":blob:" }
end
M.keys = keys

-- ---------------------------------------------------------------- connection

local Conn = {}
Conn.__index = Conn

--- A connection that outlives Redis restarts: a command whose connection failed is tried
--- again (reconnecting, with backoff, without blocking other tasks) for up to wait seconds.
--- Returns the connection, or nil, message, "REDIS" when the URL is wrong.
function M.connect(url, opts)
  opts = opts or {}
  local self = setmetatable({ url = url, wait = opts.wait or M.defaults.redis_wait, log = opts.log }, Conn)
  local r, err, code = core.redis(url)
  if not r and not err:find("^redis://") then return nil, err, code end   -- not a URL at all
  self.r = r
  return self
end

function Conn:name()
  return self.r and self.r:name() or (self.url:gsub("//[^@/]*@", "//***@"))
end

--- conn:call(cmd, args...) -> the reply, or nil, message, code (REDIS_REPLY: Redis refused
--- it; REDIS: it stayed unreachable for the whole wait).
function Conn:call(...)
  local t0, delay, said = core.monotime(), 0.05, false
  while true do
    local v, err, code
    if not self.r then self.r, err, code = core.redis(self.url) end
    if self.r then v, err, code = self.r:call(...) end
    if v ~= nil or code ~= "REDIS" then
      if said and self.log then self.log:info("redis is back: " .. self:name()) end
      return v, err, code
    end
    if core.monotime() - t0 > self.wait then return nil, err, code end
    if not said and self.log then self.log:error("redis unreachable, waiting: " .. tostring(err)) end
    said = true
    sched.sleep(delay)
    delay = math.min(delay * 2, 1)
  end
end

-- A reply that must succeed: a refusal is a bug or a misconfigured server.
local function must(v, err, code)
  if v == nil then error(("%s (%s)"):format(err, code), 0) end
  return v
end

local function ensure_group(conn, k)
  local ok, err = conn:call("xgroup", "create", k.stream, M.GROUP, "0", "mkstream")
  if ok == nil and not tostring(err):find("BUSYGROUP", 1, true) then must(ok, err, "REDIS_REPLY") end
end

-- Redis's clock, in seconds: the one clock every worker shares.
local function redis_time(conn)
  local t = conn:call("time")
  if type(t) ~= "table" then return os.time() end
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end

-- {field, value, field, value} -> {field = value}
local function fields(list)
  local out = {}
  for i = 1, #list - 1, 2 do out[list[i]] = list[i + 1] end
  return out
end

-- ---------------------------------------------------------------- enqueue

--- Adds the pairs of a plan (isync.plan, built by a policy or from image-syncer files) to
--- the queue at url. opts: prefix, force, referrers, retries, os, arch (lists, as
--- --os/--arch), log. Pairs the plan could not form (plan:fail) are recorded failed at once.
--- Returns the number of pairs added.
function M.enqueue(url, plan, opts)
  opts = opts or {}
  local conn = must(M.connect(url, { log = opts.log }))
  local k = keys(opts.prefix)
  ensure_group(conn, k)
  local pair_opts = { force = opts.force or nil, referrers = opts.referrers or nil, retries = opts.retries }
  if opts.os and #opts.os > 0 then pair_opts.os = opts.os end
  if opts.arch and #opts.arch > 0 then pair_opts.arch = opts.arch end
  local encoded = json.encode(pair_opts)
  must(conn:call("hsetnx", k.meta, "started", ("%.3f"):format(redis_time(conn))))
  must(conn:call("hset", k.meta, "enqueued", "0"))
  local n = 0
  for _, it in ipairs(plan.items) do
    local id = must(conn:call("hincrby", k.meta, "seq", 1))
    must(conn:call("xadd", k.stream, "*", "n", id, "src", plan_mod.ref_string(it.src), "dst",
      plan_mod.ref_string(it.dst), "opts", encoded))
    must(conn:call("hincrby", k.meta, "total", 1))
    n = n + 1
  end
  for _, f in ipairs(plan.failures or {}) do
    local id = must(conn:call("hincrby", k.meta, "seq", 1))
    must(conn:call("hset", k.results, id, json.encode(f)))
    must(conn:call("sadd", k.failed, id))
    must(conn:call("hincrby", k.meta, "total", 1))
  end
  must(conn:call("hset", k.meta, "enqueued", "1"))
  return n, #(plan.failures or {}), conn:name()
end

-- ---------------------------------------------------------------- blob leases

local Leases = {}
Leases.__index = Leases

local RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
local RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"

--- Cross-process single-flight for blobs (isync.copy's blob_lease): one transfer of a
--- digest to a registry at a time, whatever the repository, so the others mount it.
function M.leases(conn, owner, opts)
  opts = opts or {}
  return setmetatable({ conn = conn, owner = owner, k = keys(opts.prefix), n = 0,
                        ttl = opts.ttl or M.defaults.lease_ttl, stats = { waited = 0, held = 0 } }, Leases)
end

local Lease = {}
Lease.__index = Lease
function Lease:release()
  if self.released then return end
  self.released = true
  self.leases.conn:call("eval", RELEASE, 1, self.key, self.token)
end

--- A lease to transfer digest to registry base, or false once another process's lease on
--- it is gone (look again: the blob is there, or mountable). true (no lease) when Redis
--- cannot be asked: a second transfer is better than none.
function Leases:acquire(base, digest)
  local key = self.k.lease .. base .. "|" .. digest
  self.n = self.n + 1
  local token = self.owner .. "#" .. self.n
  local ttl_ms = math.floor(self.ttl * 1000)
  local ok = self.conn:call("set", key, token, "nx", "px", ttl_ms)
  if ok == nil then return true end
  if ok == "OK" then
    self.stats.held = self.stats.held + 1
    local lease = setmetatable({ leases = self, key = key, token = token }, Lease)
    sched.spawn(function()   -- renewal while the transfer runs; never raises
      local last = core.monotime()
      while not lease.released do
        sched.sleep(math.min(0.25, self.ttl / 4))
        if not lease.released and core.monotime() - last >= self.ttl / 3 then
          pcall(self.conn.call, self.conn, "eval", RENEW, 1, key, token, ttl_ms)
          last = core.monotime()
        end
      end
    end)
    return lease
  end
  self.stats.waited = self.stats.waited + 1
  repeat sched.sleep(0.1) until self.conn:call("exists", key) ~= 1
  return false
end

function Leases:sources(base, digest)
  local list = self.conn:call("srandmember", self.k.blob .. base .. "|" .. digest, 3)
  return type(list) == "table" and list or {}
end

function Leases:remember(base, digest, repo)
  self.conn:call("sadd", self.k.blob .. base .. "|" .. digest, repo)
end

-- ---------------------------------------------------------------- worker

local function read_first_line(path)
  local f = io.open(path)
  if not f then return nil end
  local s = f:read("l")
  f:close()
  return s
end

--- hostname-pid: unique among live workers, readable in `isync status`.
function M.worker_name()
  local host = os.getenv("HOSTNAME") or read_first_line("/proc/sys/kernel/hostname") or "worker"
  local pid = (read_first_line("/proc/self/stat") or ""):match("^(%d+)") or tostring(os.time())
  return host .. "-" .. pid
end

-- The report entry stored for a pair: what report.lua reads back.
local function stored(entry, worker, at)
  local st = entry.stats
  return json.encode({ source = entry.source, destination = entry.destination, status = entry.status,
    digest = entry.digest, source_digest = entry.source_digest, reason = entry.reason, code = entry.code,
    note = entry.note, seconds = entry.seconds, worker = worker, at = at,
    stats = st and { bytes = st.bytes, blobs_copied = st.blobs_copied, blobs_mounted = st.blobs_mounted,
                     blobs_skipped = st.blobs_skipped, referrers_copied = st.referrers_copied } or nil })
end

--- Consumes the queue until every enqueued pair has a result (or for ever with forever).
--- o: url, open(registry, repo) -> isync.Registry (the worker's credentials), proc (images
--- at once, 5), log, ledger (an isync.ledger or nil), name, prefix, claim_idle and lease_ttl
--- (seconds), forever, stall_budget, max_retry_after. Returns {done, failed, bytes}.
function M.worker(o)
  local log = o.log
  local conn = must(M.connect(o.url, { log = log }))
  local k = keys(o.prefix)
  ensure_group(conn, k)
  local name = o.name or M.worker_name()
  local proc = o.proc or 5
  local claim_ms = math.floor((o.claim_idle or M.defaults.claim_idle) * 1000)
  local beat = math.min(5, (o.claim_idle or M.defaults.claim_idle) / 3)
  local leases = M.leases(conn, name, { prefix = o.prefix, ttl = o.lease_ttl })
  local blob_sem = sched.semaphore(2 * proc)
  local running, nrunning = {}, 0
  local totals = { done = 0, failed = 0, bytes = 0 }
  local stop = false
  log:info(("worker %s on %s: %d images at once"):format(name, conn:name(), proc))

  local function record(id, n, entry)
    local at = redis_time(conn)
    -- a pair run twice (taken over from a worker that was only slow) finds its work done:
    -- the first "copied" stays the result, not the second run's "skipped"
    local prev = conn:call("hget", k.results, n)
    prev = type(prev) == "string" and json.decode(prev)
    if not (type(prev) == "table" and prev.status == "copied" and entry.status == "skipped" and prev.digest == entry.digest) then
      must(conn:call("hset", k.results, n, stored(entry, name, at)))
    end
    if entry.status == "failed" then must(conn:call("sadd", k.failed, n))
    else must(conn:call("srem", k.failed, n)) end
    must(conn:call("xack", k.stream, M.GROUP, id))
  end

  -- One pair: the same rounds as a plan (transient failures again, with the image's one
  -- retry budget), then its result, then the acknowledgement.
  local function process(id, f)
    local ok, perr = pcall(function()
      local po = json.decode(f.opts or "{}") or {}
      local s, d = core.parse_ref(f.src or ""), core.parse_ref(f.dst or "")
      local entry
      if not s or not d then
        entry = { source = tostring(f.src), destination = tostring(f.dst), status = "failed", code = "REF_INVALID",
                  reason = "the queue entry does not name two references" }
      else
        local t0 = core.monotime()
        local budget = retry.budget { stall = o.stall_budget, max_retry_after = o.max_retry_after }
        local copy_opts = { force = po.force, referrers = po.referrers, ledger = o.ledger, blob_sem = blob_sem,
          blob_lease = leases, budget = budget,
          platforms = (po.os or po.arch) and require("isync").platforms(po.os or {}, po.arch or {}) or nil }
        local res, err, code
        local retries = po.retries or 2
        for round = 0, retries do
          local src, dst = o.open(s.registry, s.repo), o.open(d.registry, d.repo)
          res, err, code = copy.image(src, s.repo, s.digest or s.tag, dst, d.repo, d.digest or d.tag, copy_opts)
          if res or not retry.transient(code) or budget.final or round == retries then break end
          log:verbose(("retry later %s: %s"):format(f.src, err))
          sched.sleep(math.min(2 ^ round, 10))
        end
        entry = plan_mod.entry(f.src, f.dst, core.monotime() - t0, res, err, code)
      end
      plan_mod.log_outcome(log, entry)
      record(id, f.n, entry)
      totals.done = totals.done + 1
      if entry.status == "failed" then totals.failed = totals.failed + 1 end
      totals.bytes = totals.bytes + (entry.stats and entry.stats.bytes or 0)
    end)
    running[id] = nil
    nrunning = nrunning - 1
    -- a bug or Ctrl-C: the entry stays pending and another worker takes it over
    if not ok then log:error(("%s: %s"):format(f.src or id, tostring(perr))) end
  end

  local function start(list)
    for _, e in ipairs(list or {}) do
      if type(e) == "table" and type(e[2]) == "table" and not running[e[1]] then
        running[e[1]] = true
        nrunning = nrunning + 1
        sched.spawn(process, e[1], fields(e[2]))
      end
    end
  end

  -- Every pair enqueued has its result: the queue is done (for now).
  local function finished()
    local meta = conn:call("hmget", k.meta, "enqueued", "total")
    if type(meta) ~= "table" or meta[1] ~= "1" then return false end
    local n = conn:call("hlen", k.results)
    return type(n) == "number" and n >= (tonumber(meta[2]) or 0)
  end

  sched.run(function()
    local heart = sched.spawn(function()
      while not stop do
        local ids = {}
        for id in pairs(running) do ids[#ids + 1] = id end
        -- touching our entries keeps them from looking idle to the others' XAUTOCLAIM
        if #ids > 0 then conn:call("xclaim", k.stream, M.GROUP, name, 0, table.unpack(ids)) end
        conn:call("hset", k.workers, name, json.encode({ at = redis_time(conn), running = nrunning,
          done = totals.done, failed = totals.failed, bytes = totals.bytes }))
        local t = core.monotime()
        while not stop and core.monotime() - t < beat do sched.sleep(0.25) end
      end
    end)
    while true do
      local free, got = proc - nrunning, 0
      if free > 0 then
        -- first the entries of workers gone quiet, then new ones
        local claimed = conn:call("xautoclaim", k.stream, M.GROUP, name, claim_ms, "0-0", "count", free)
        if type(claimed) == "table" and type(claimed[2]) == "table" and #claimed[2] > 0 then
          log:info(("took over %d image%s of a worker gone quiet"):format(#claimed[2], #claimed[2] == 1 and "" or "s"))
          start(claimed[2])
          got = #claimed[2]
        end
        if got < free then
          local r = conn:call("xreadgroup", "group", M.GROUP, name, "count", free - got, "streams", k.stream, ">")
          if type(r) == "table" and type(r[1]) == "table" then
            start(r[1][2])
            got = got + #r[1][2]
          end
        end
      end
      if got == 0 then
        if nrunning == 0 and not o.forever and finished() then break end
        sched.sleep(o.poll or M.defaults.poll)
      end
    end
    stop = true
    sched.wait(heart)
  end)
  conn:call("hdel", k.workers, name)
  totals.leases_held, totals.leases_waited = leases.stats.held, leases.stats.waited
  return totals
end

-- ---------------------------------------------------------------- status

--- The state of the queue at url: {total, pending, running, done, failed, bytes, workers
--- (alive: a heartbeat in the last 3 claim periods), finished, report (isync.report)}.
function M.status(o)
  local conn = must(M.connect(o.url, { wait = o.wait or 10 }))
  local k = keys(o.prefix)
  local meta = fields(must(conn:call("hgetall", k.meta)))
  local results = fields(must(conn:call("hgetall", k.results)))
  local pending_info = conn:call("xpending", k.stream, M.GROUP)
  local now = redis_time(conn)
  local report = report_mod.new(false)
  local last, done, failed, bytes = tonumber(meta.started) or now, 0, 0, 0
  for _, text in pairs(results) do
    local e = json.decode(text)
    if type(e) == "table" then
      report:add(e)
      if e.status == "failed" then failed = failed + 1 else done = done + 1 end
      bytes = bytes + (type(e.stats) == "table" and e.stats.bytes or 0)
      if tonumber(e.at) and e.at > last then last = e.at end
    end
  end
  local total = tonumber(meta.total) or 0
  local running = type(pending_info) == "table" and tonumber(pending_info[1]) or 0
  local workers = 0
  for _, hb in pairs(fields(conn:call("hgetall", k.workers) or {})) do
    local h = json.decode(hb)
    if type(h) == "table" and tonumber(h.at) and now - h.at < 3 * (o.claim_idle or M.defaults.claim_idle) then
      workers = workers + 1
    end
  end
  local finished_n = done + failed
  report:finish(math.max(0, (finished_n >= total and last or now) - (tonumber(meta.started) or now)))
  return { total = total, pending = math.max(0, total - finished_n - running), running = running, done = done,
           failed = failed, bytes = bytes, workers = workers, report = report,
           finished = meta.enqueued == "1" and finished_n >= total, name = conn:name() }
end

return M
