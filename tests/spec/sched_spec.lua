-- The task scheduler, driven by real engine jobs (sleep timers on the engine thread).
local isync = require "isync"
local sched = require "isync.sched"

describe("isync.sched", function()
  it("runs spawned tasks concurrently: three 200 ms sleeps end together", function()
    local t0 = isync.monotime()
    isync.run(function()
      local ts = {}
      for i = 1, 3 do ts[i] = isync.spawn(function() isync.sleep(0.2); return i * 10 end) end
      assert.same({ 10, 20, 30 }, isync.all(ts))
    end)
    local dt = isync.monotime() - t0
    assert.is_true(dt >= 0.19, "slept " .. dt)
    assert.is_true(dt < 0.55, "three sleeps ran one after another: " .. dt)
  end)

  it("passes a task's context to the tasks it spawns, and restores it after with_context", function()
    isync.run(function()
      assert.is_nil(sched.context())
      local seen = sched.with_context({ budget = "b1" }, function()
        local t = isync.spawn(function() isync.sleep(0.01); return sched.context().budget end)
        return isync.wait(t)
      end)
      assert.equal("b1", seen)
      assert.is_nil(sched.context())
      assert.has_error(function() sched.with_context({}, function() error("x", 0) end) end, "x")
      assert.is_nil(sched.context())   -- restored on error too
    end)
  end)

  it("blocks outside a task and returns the same values", function()
    assert.is_true(isync.sleep(0.01))
    local t = isync.spawn(function(a, b) isync.sleep(0.01); return a + b, "x" end, 2, 3)
    local s, x = isync.wait(t)
    assert.equal(5, s)
    assert.equal("x", x)
  end)

  it("bounds concurrency with map and keeps results in order", function()
    local running, peak = 0, 0
    local out = isync.run(function()
      return isync.map({ 5, 4, 3, 2, 1, 0 }, 2, function(v)
        running = running + 1
        peak = math.max(peak, running)
        isync.sleep(v * 0.01)
        running = running - 1
        return v * 2
      end)
    end)
    assert.same({ 10, 8, 6, 4, 2, 0 }, out)
    assert.equal(2, peak)
  end)

  it("re-raises a task's error in the waiter, after the others finish", function()
    local finished = false
    local ok, err = pcall(isync.run, function()
      local a = isync.spawn(function() isync.sleep(0.01); error("boom in a", 0) end)
      local b = isync.spawn(function() isync.sleep(0.05); finished = true end)
      isync.all({ a, b })
    end)
    assert.is_false(ok)
    assert.matches("boom in a", tostring(err))
    assert.is_true(finished)
  end)

  it("blocks inside a foreign coroutine while the loop runs", function()
    local got = isync.run(function()
      local co = coroutine.wrap(function() return isync.sleep(0.01) end)
      return co()
    end)
    assert.is_true(got)
  end)

  it("lets a plain coroutine.yield in a task give way to others", function()
    local order = {}
    isync.run(function()
      local a = isync.spawn(function() order[#order + 1] = "a1"; coroutine.yield(); order[#order + 1] = "a2" end)
      local b = isync.spawn(function() order[#order + 1] = "b1" end)
      isync.all({ a, b })
    end)
    assert.same({ "a1", "b1", "a2" }, order)
  end)

  it("semaphores hand units over in order", function()
    local sem = sched.semaphore(1)
    local order = {}
    isync.run(function()
      sem:acquire()
      local ts = {}
      for i = 1, 3 do ts[i] = isync.spawn(function() sem:acquire(); order[#order + 1] = i; sem:release() end) end
      isync.sleep(0.01)
      assert.same({}, order)
      sem:release()
      isync.all(ts)
    end)
    assert.same({ 1, 2, 3 }, order)
  end)

  it("returns a job awaited after the loop already collected it", function()
    local core = require "isync.core"
    local got = isync.run(function()
      local fast = core.submit("sleep", nil, { ms = 1 })
      local slow = core.submit("sleep", nil, { ms = 60 })
      sched.await(slow)
      return sched.await(fast)
    end)
    assert.is_true(got)
  end)

  it("wake ends a sleep at once; the woken sleep's timer firing later harms nothing", function()
    local t0 = isync.monotime()
    local woke
    isync.run(function()
      local sleeper = isync.spawn(function() isync.sleep(5); woke = isync.monotime() - t0; return "up" end)
      isync.sleep(0.02)
      sched.wake(sleeper)
      assert.equal("up", isync.wait(sleeper))
      sched.wake(sleeper)   -- no longer sleeping: nothing happens
    end)
    assert.is_true(woke < 1, "the sleep ran its course: " .. woke)
    -- a task that is not sleeping is left alone, and later sleeps still sleep
    isync.run(function()
      local t = isync.spawn(function() isync.sleep(0.1); return "slept" end)
      local busy = isync.spawn(function() return "busy" end)
      sched.wake(busy)
      assert.equal("slept", isync.wait(t))
    end)
    assert.is_true(isync.monotime() - t0 >= 0.1)
  end)

  it("refuses nonsense arguments", function()
    assert.has_error(function() isync.spawn(42) end)
    assert.has_error(function() sched.semaphore(0) end)
  end)
end)
