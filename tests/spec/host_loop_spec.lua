-- Embedding without blocking: a host event loop waits on isync.fd() and calls isync.step();
-- a Job handle can be closed (<close>) before or after its operation ends. No registry
-- needed: the engine's sleep operation stands in for network work.
local isync = require "isync"
local core = require "isync.core"

-- The eventfd's counter, read from /proc (what poll(2) on it would report as readable).
local function pending_count(fd)
  local f = assert(io.open("/proc/self/fdinfo/" .. fd))
  local s = f:read("a")
  f:close()
  return tonumber(s:match("eventfd%-count:%s*(%x+)"), 16)
end

local function wait_readable(fd, seconds)
  local deadline = core.monotime() + seconds
  while core.monotime() < deadline do
    if pending_count(fd) > 0 then return true end
    os.execute("sleep 0.01")
  end
  return false
end

describe("a host event loop", function()
  it("waits on isync.fd() and drives tasks with isync.step()", function()
    local fd = isync.fd()
    assert.equal("integer", math.type(fd))
    local order = {}
    local t1 = isync.spawn(function() isync.sleep(0.05); order[#order + 1] = "a"; return 1 end)
    local t2 = isync.spawn(function() isync.sleep(0.10); order[#order + 1] = "b"; return 2 end)
    isync.step()                           -- starts both sleeps; nothing has finished yet
    assert.equal(0, pending_count(fd))
    local steps = 0
    while t1.status ~= "done" or t2.status ~= "done" do
      assert.is_true(wait_readable(fd, 5), "the descriptor never became readable")
      while isync.step() do end
      steps = steps + 1
      assert.is_true(steps < 10)
    end
    assert.equal(0, pending_count(fd))   -- step took every finished operation
    assert.same({ "a", "b" }, order)
    assert.equal(1, isync.wait(t1))
    assert.equal(2, isync.wait(t2))
  end)
end)

describe("a Job handle", function()
  it("closed before its operation ends is dropped when it ends, unseen", function()
    do
      local j <close> = core.submit("sleep", nil, { ms = 20 })
    end
    local keep = core.submit("sleep", nil, { ms = 60 })
    -- the first answer to arrive is the closed job's: poll drops it and hands out the next
    local got = core.poll(2000)
    while got == nil do got = core.poll(2000) end
    assert.equal(keep, got)
    assert.is_true(got:result())
  end)

  it("closed after it ended gives its memory back and refuses to be read", function()
    local j = core.submit("sleep", nil, { ms = 1 })
    assert.is_true(core.wait(j, 2000))
    j:close()
    assert.has_error(function() j:result() end, "isync: the job is closed")
  end)

  it("is built from the operation's descriptor, which checks each argument by its kind", function()
    assert.has_error(function() core.submit("sleep", nil, { ms = "soon" }) end, "must be a number 'ms' (sleep)")
    assert.has_error(function() core.submit("sleep", nil, { ms = -1 }) end, "'ms' must be between 0 and 86400000")
    assert.has_error(function() core.submit("nope", nil, {}) end)
    local names = {}
    for _, n in ipairs(core.operations) do names[n] = true end
    for _, n in ipairs({ "ping", "tags", "catalog", "manifest_get", "manifest_head", "manifest_put", "blob_head",
                         "blob_mount", "blob_copy", "blob_get", "blob_put", "referrers", "sleep" }) do
      assert.is_true(names[n], n)
    end
  end)
end)
