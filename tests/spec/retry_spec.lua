-- isync.retry: which failures are retried, and the per-image budget that bounds stalls,
-- long Retry-After waits and unreachable addresses. No network: fn plays the registry,
-- a fake clock and sleep keep time.
local retry = require "isync.retry"

-- fn answering each call from the list: {err, code, info, seconds the attempt took}
local function scripted(answers, clock)
  local calls = 0
  return function()
    calls = calls + 1
    local a = answers[math.min(calls, #answers)]
    clock.now = clock.now + (a[4] or 0)
    if a.ok then return a.ok end
    return nil, a[1], a[2], a[3]
  end, function() return calls end
end

local function env(budget, clock, extra)
  local e = { budget = budget, name = "reg.example:5000", stall_timeout = 60, clock = function() return clock.now end }
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

describe("isync.retry", function()
  local policy, slept, clock
  before_each(function()
    policy = retry.policy()
    slept = {}
    clock = { now = 0 }
  end)
  local function sleep(d) slept[#slept + 1] = d; clock.now = clock.now + d end

  it("retries transient failures up to the attempts, then says how many", function()
    local fn, calls = scripted({ { "boom", "SERVER_ERROR", { status = 500 } } }, clock)
    local v, err, code = retry.call(policy, sleep, nil, fn, env(nil, clock))
    assert.is_nil(v)
    assert.equal(5, calls())
    assert.equal("SERVER_ERROR", code)
    assert.equal("boom (after 5 attempts)", err)
  end)

  it("does not retry a permanent failure", function()
    local fn, calls = scripted({ { "no", "DENIED", { status = 403 } } }, clock)
    assert.is_nil((retry.call(policy, sleep, nil, fn, env(nil, clock))))
    assert.equal(1, calls())
  end)

  it("a stall spends the image's budget: no retry, and the budget is final", function()
    local b = retry.budget()
    local fn, calls = scripted({ { "too slow", "TIMEOUT", {}, 61 } }, clock)
    local _, err, code = retry.call(policy, sleep, nil, fn, env(b, clock))
    assert.equal(1, calls())
    assert.equal("TIMEOUT", code)
    assert.matches("stalled for 61 s, its stall budget is 60 s", err, 1, true)
    assert.is_true(b.final)
    -- another request of the same image that stalls is not retried either
    local fn2, calls2 = scripted({ { "too slow", "TIMEOUT", {}, 5 } }, clock)
    retry.call(policy, sleep, nil, fn2, env(b, clock))
    assert.equal(1, calls2())
  end)

  it("short timeouts are retried until together they reach the budget", function()
    local b = retry.budget { stall = 10 }
    local fn, calls = scripted({ { "timed out", "TIMEOUT", {}, 4 } }, clock)
    retry.call(policy, sleep, nil, fn, env(b, clock))
    assert.equal(3, calls())   -- 4 + 4 < 10, 12 >= 10
    assert.is_true(b.final)
  end)

  it("a Retry-After beyond the cap fails at once, naming the registry and the wait", function()
    local b = retry.budget()
    local fn, calls = scripted({ { "HTTP 429", "TOOMANYREQUESTS", { status = 429, retry_after = 3600 } } }, clock)
    local _, err = retry.call(policy, sleep, nil, fn, env(b, clock))
    assert.equal(1, calls())
    assert.same({}, slept)
    assert.matches("reg.example:5000 asked to retry after 3600 s, more than the 300 s allowed", err, 1, true)
    assert.is_true(b.final)
  end)

  it("a Retry-After within the cap is waited for; the cap can be lowered per image", function()
    local fn = scripted({ { "HTTP 429", "TOOMANYREQUESTS", { status = 429, retry_after = 120 } }, { ok = "yes" } }, clock)
    assert.equal("yes", retry.call(policy, sleep, nil, fn, env(nil, clock)))
    assert.same({ 120 }, slept)
    local b = retry.budget { max_retry_after = 60 }
    fn = scripted({ { "HTTP 429", "TOOMANYREQUESTS", { status = 429, retry_after = 120 } }, { ok = "yes" } }, clock)
    assert.is_nil((retry.call(policy, sleep, nil, fn, env(b, clock))))
  end)

  it("a refused connection or unknown host gets one quick retry, then the budget is final", function()
    local b = retry.budget()
    local fn, calls = scripted({ { "Could not resolve host", "CONNECT", {} } }, clock)
    local _, err = retry.call(policy, sleep, nil, fn, env(b, clock))
    assert.equal(2, calls())
    assert.equal(1, #slept)   -- one short wait, jittered so many images do not retry in step
    assert.is_true(slept[1] >= policy.base / 2 and slept[1] <= policy.base, tostring(slept[1]))
    assert.equal("Could not resolve host (after 2 attempts)", err)
    assert.is_true(b.final)
  end)

  it("classifies codes by the shared table's class, not a list of its own", function()
    local core = require "isync.core"
    local n = 0
    for code, info in pairs(core.code_info) do
      assert.equal(info.class == "transient", retry.transient(code), code)
      n = n + 1
    end
    assert.is_true(n >= 36)
    assert.is_true(retry.transient("UNAVAILABLE"))
    assert.is_false(retry.transient("INVALID_RULE"))
    assert.is_false(retry.transient("NO_SUCH_CODE"))
    assert.is_true(retry.transient("NO_SUCH_CODE", { status = 503 }))
  end)
end)
