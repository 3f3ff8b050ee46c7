-- isync.sched: tasks (coroutines) over the engine's completion queue.
--
-- A primitive called inside a task submits a job and yields; the loop resumes the task
-- when the engine reports the job finished. Called outside a task it drives the same loop
-- until its job is done, so the API is identical in a plain script, in a task, and inside
-- someone else's program. When the loop is already running further down the stack (a
-- primitive called from a coroutine that is not an isync task), it blocks on its own job.
local core = require "isync.core"

local M = {}

local AWAIT, WAIT_TASK, SEM = {}, {}, {}   -- yield markers
local POLL_MS = 200                         -- wake up at least this often (Ctrl-C, hooks)

local tasks = setmetatable({}, { __mode = "k" })   -- coroutine -> task
local ready, ready_head, ready_tail = {}, 1, 0     -- queue of {task, n, ...}
local waiting = {}                                 -- job -> task
local sleeping = setmetatable({}, { __mode = "k" })  -- task -> its sleep job (M.wake)
local abandoned = {}                               -- sleep jobs whose task M.wake woke
local finished_outside = setmetatable({}, { __mode = "k" })
local in_loop = false
local live = 0                                     -- tasks not yet finished
local unseen, n_failed = {}, 0                     -- failed task -> its place, until a wait() raises its error

local Task = {}
Task.__index = Task
function Task:__tostring() return "isync.Task(" .. self.status .. ")" end

local function push_ready(task, ...)
  ready_tail = ready_tail + 1
  ready[ready_tail] = table.pack(task, ...)
end

local function pop_ready()
  if ready_head > ready_tail then
    ready_head, ready_tail = 1, 0   -- empty: start over, so the indices do not grow for days
    return nil
  end
  local item = ready[ready_head]
  ready[ready_head] = nil
  ready_head = ready_head + 1
  return item
end

local function traceback(err)
  if type(err) == "string" and os.getenv("ISYNC_TRACE") then return debug.traceback(err, 2) end
  return err
end

--- Starts fn(...) as a task; returns the task. It runs when the loop next turns.
function M.spawn(fn, ...)
  assert(type(fn) == "function", "isync.spawn: a function is needed")
  local parent = M.current()
  -- a task inherits its parent's context (an image copy's retry budget reaches every
  -- request the copy's sub-tasks make)
  local task = setmetatable({ status = "ready", waiters = {}, ctx = parent and parent.ctx }, Task)
  task.co = coroutine.create(function(...)
    return table.pack(xpcall(fn, traceback, ...))
  end)
  tasks[task.co] = task
  live = live + 1
  push_ready(task, ...)
  return task
end

function M.current()
  return tasks[coroutine.running()]
end

--- The current task's context value (set by with_context, inherited by spawned tasks), or nil.
function M.context()
  local me = M.current()
  return me and me.ctx
end

--- Calls fn(...) with v as the current task's context, restoring the previous one after
--- (also when fn raises). Outside a task fn just runs: there is nothing to inherit.
function M.with_context(v, fn, ...)
  local me = M.current()
  if not me then return fn(...) end
  local saved = me.ctx
  me.ctx = v
  local r = table.pack(pcall(fn, ...))
  me.ctx = saved
  if not r[1] then error(r[2], 0) end
  return table.unpack(r, 2, r.n)
end

--- A context holding fields, the current one's others showing through (an image copy's
--- budget, and the retry hook of the plan that runs it).
function M.context_with(fields)
  return setmetatable(fields, { __index = M.context() })
end

local function finish(task, packed)
  live = live - 1
  task.status = packed[1] and "done" or "failed"
  if packed[1] then
    task.results = table.pack(table.unpack(packed, 2, packed.n))
  else
    task.err = packed[2]
    n_failed = n_failed + 1
    unseen[task] = n_failed
  end
  for _, w in ipairs(task.waiters) do push_ready(w) end
  task.waiters = nil
end

local function resume(task, ...)
  task.status = "running"
  local ok, marker_or_packed = coroutine.resume(task.co, ...)
  if not ok then   -- only if the wrapper itself failed
    finish(task, table.pack(false, marker_or_packed))
  elseif coroutine.status(task.co) == "dead" then
    finish(task, marker_or_packed)
  elseif marker_or_packed ~= AWAIT and marker_or_packed ~= WAIT_TASK and marker_or_packed ~= SEM then
    task.status = "ready"   -- a plain coroutine.yield(): run again on the next turn
    push_ready(task)
  else
    task.status = "waiting"
  end
end

local function dispatch(job)
  local t = waiting[job]
  if t then
    waiting[job] = nil
    push_ready(t, job)
  elseif abandoned[job] then
    abandoned[job] = nil
    job:close()
  else
    finished_outside[job] = true
  end
end

-- One turn: run every ready task, then collect finished jobs (waiting up to block_ms).
local function turn(block_ms)
  local item = pop_ready()
  while item do
    resume(item[1], table.unpack(item, 2, item.n))
    item = pop_ready()
  end
  local job = core.poll(block_ms)
  while job do
    dispatch(job)
    job = core.poll(0)
  end
end

--- Drives the loop until pred() is true.
function M.run_until(pred)
  local saved = in_loop
  in_loop = true
  local ok, err = pcall(function()
    while not pred() do
      turn(ready_head <= ready_tail and 0 or POLL_MS)
    end
  end)
  in_loop = saved
  if not ok then error(err, 0) end
end

--- One turn that never blocks, for a program with its own event loop (luv, cqueues, a C
--- poll loop): runs the ready tasks and hands finished operations to the tasks waiting for
--- them. Call it when M.fd() is readable, and after spawning. Returns true while tasks are
--- ready to run at once (call it again soon); false when isync waits for the network.
function M.step()
  local saved = in_loop
  in_loop = true
  local ok, err = pcall(turn, 0)
  in_loop = saved
  if not ok then error(err, 0) end
  return ready_head <= ready_tail
end

--- A descriptor that is readable while finished operations wait for M.step (an eventfd).
function M.fd() return core.fd() end

-- The results, once the job's memory is given back (see job:close()).
local function closed(job, ...)
  job:close()
  return ...
end

--- Waits for a job; returns job:result(). Yields in a task, blocks elsewhere.
function M.await(job)
  local me = M.current()
  if finished_outside[job] then
    -- already collected by the loop (submitted earlier, awaited late): nothing to wait for
  elseif me and coroutine.isyieldable() then
    waiting[job] = me
    coroutine.yield(AWAIT)
  elseif not in_loop then
    M.run_until(function() return finished_outside[job] end)
  else
    while not core.wait(job, POLL_MS) do end
  end
  finished_outside[job] = nil
  return closed(job, job:result())
end

local function task_results(task)
  if task.status == "failed" then unseen[task] = nil; error(task.err, 0) end
  return table.unpack(task.results, 1, task.results.n)
end

--- Waits for a task and returns its results; a task that failed raises its error here.
function M.wait(task)
  if task.status == "done" or task.status == "failed" then return task_results(task) end
  local me = M.current()
  if me == task then error("isync.wait: a task cannot wait for itself", 2) end
  if me and coroutine.isyieldable() then
    table.insert(task.waiters, me)
    coroutine.yield(WAIT_TASK)
  elseif not in_loop then
    M.run_until(function() return task.status == "done" or task.status == "failed" end)
  else
    error("isync.wait: cannot wait for a task from a foreign coroutine while the loop runs", 2)
  end
  return task_results(task)
end

--- Waits for every task in the list; returns a list of first results. Raises the first
--- failure only after all have ended, so none is left running unseen.
function M.all(list)
  local out, first_err = {}, nil
  for i, t in ipairs(list) do
    local ok, v = pcall(M.wait, t)
    if ok then
      out[i] = v
    elseif t.status ~= "failed" then
      error(v, 0)   -- not the task's failure but the loop's (Ctrl-C): stop now
    elseif not first_err then
      first_err = v
    end
  end
  if first_err then error(first_err, 0) end
  return out
end

--- The errors of failed tasks nobody waited for (in the order they failed), forgetting them:
--- the host reports these when a script ends, so a failure in a task that was spawned and
--- left alone is not lost.
function M.unseen_errors()
  local list = {}
  for t in pairs(unseen) do list[#list + 1] = t end
  table.sort(list, function(a, b) return unseen[a] < unseen[b] end)
  local out = {}
  for i, t in ipairs(list) do out[i] = t.err end
  unseen, n_failed = {}, 0
  return out
end

--- Runs fn as a task and drives the loop until it ends; returns its results.
function M.run(fn, ...)
  local t = M.spawn(fn, ...)
  return M.wait(t)
end

--- A counting semaphore bounding how many tasks do something at once.
local Sem = {}
Sem.__index = Sem

function M.semaphore(n)
  assert(math.type(n) == "integer" and n > 0, "isync.semaphore: a positive integer is needed")
  return setmetatable({ free = n, queue = {} }, Sem)
end

--- Waits for a unit. Waiters with a higher priority (default 0) are served first, equal
--- priorities in arrival order (blob copies pass their size: the largest start first).
function Sem:acquire(priority)
  if self.free > 0 then self.free = self.free - 1; return end
  local me = M.current()
  if me and coroutine.isyieldable() then
    priority = priority or 0
    local q, pos = self.queue, #self.queue + 1
    while pos > 1 and q[pos - 1].priority < priority do pos = pos - 1 end
    table.insert(q, pos, { task = me, priority = priority })
    coroutine.yield(SEM)          -- release() hands its unit straight to us
  elseif not in_loop then
    M.run_until(function() return self.free > 0 end)
    self.free = self.free - 1
  else
    error("isync: semaphore acquired from a foreign coroutine while the loop runs", 2)
  end
end

function Sem:release()
  local nxt = table.remove(self.queue, 1)
  if nxt then push_ready(nxt.task) else self.free = self.free + 1 end
end

--- Calls fn(item, i) for every item with at most n running at once; returns results in order.
function M.map(items, n, fn)
  local sem = M.semaphore(n)
  local list = {}
  for i, item in ipairs(items) do
    list[i] = M.spawn(function()
      sem:acquire()
      local ok, a, b, c = pcall(fn, item, i)
      sem:release()
      if not ok then error(a, 0) end
      return a, b, c
    end)
  end
  return M.all(list), list
end

--- Sleeps for seconds without blocking other tasks (M.wake ends it early).
function M.sleep(seconds)
  local job = core.submit("sleep", nil, { ms = math.floor(seconds * 1000 + 0.5) })
  local me = M.current()
  if not (me and coroutine.isyieldable()) or finished_outside[job] then return M.await(job) end
  waiting[job], sleeping[me] = me, job
  coroutine.yield(AWAIT)
  sleeping[me] = nil
  if abandoned[job] then return end   -- woken: the sleep job is closed when it fires
  finished_outside[job] = nil
  return closed(job, job:result())
end

--- Ends the sleep of a task in M.sleep now (a ticker's last sleep must not hold up the
--- end of a run); does nothing to a task that is not sleeping.
function M.wake(task)
  local job = sleeping[task]
  if not job or waiting[job] ~= task then return end
  waiting[job], abandoned[job] = nil, true
  push_ready(task)
end

return M
