-- What a plan run leaves behind: nothing in module-level state that grows with runs (a
-- mirror loop runs for days), nothing one run lends another, and retry notifications that
-- stay with the plan whose requests retried, also when two plans run at once or one fails.
local H = require "helpers"
local isync = require "isync"
local json = require "isync.json"

-- Entries in every table reachable from the isync modules' upvalues (the modules' own
-- state: caches, queues, lists), weak tables after a full collection. Globals are not
-- walked: busted keeps its own state there.
local function module_state_size()
  collectgarbage()
  collectgarbage()
  local seen, n = { [_G] = true, [package.loaded] = true, [package] = true }, 0
  local walk
  walk = function(v)
    local t = type(v)
    if (t ~= "table" and t ~= "function") or seen[v] then return end
    seen[v] = true
    if t == "table" then
      for k, x in next, v do
        n = n + 1
        walk(k)
        walk(x)
      end
      walk(debug.getmetatable(v))
    else
      for i = 1, 255 do
        local name, x = debug.getupvalue(v, i)
        if not name then break end
        if name ~= "_ENV" then walk(x) end
      end
    end
  end
  for name, mod in pairs(package.loaded) do
    if name == "isync" or name:match("^isync%.") then walk(mod) end
  end
  return n
end

local function count_lines(path, pattern)
  local n = 0
  for line in (H.read(path) or ""):gmatch("[^\n]+") do if line:find(pattern) then n = n + 1 end end
  return n
end

local function report_of(path)
  local out = {}
  for _, e in ipairs(json.decode(assert(H.read(path), "no report " .. path)).images) do out[e.source] = e end
  return out
end

describe("what runs leave behind", function()
  local dir, hook_before
  before_each(function()
    dir = H.tmpdir()
    hook_before = isync.on_retry
  end)
  after_each(function()
    isync.on_retry = hook_before
    H.rm(dir)
  end)

  it("a plan run 20 times leaves module-level state no bigger than after its first run", function()
    -- a source that loses every blob (a permanent failure inside the copy's blob tasks)
    local lost = H.start_proxy("plain", dir, "lost", "--status404 100 --only '/blobs/' --methods GET")
    local src, dst = H.registry("plain"), H.registry("plain2")
    local broken = isync.registry(lost.addr, { plain_http = true, docker_config = false })
    local repo, brepo = H.unique("state/runs-"), H.unique("state/lost-")
    H.mkimage("plain", "single", brepo, "v1", "--layers", "1", "--layer-size", "1K")
    local plan = isync.plan { ledger = false, retries = 0, log = { file = dir .. "/run.log" } }
    plan:copy(src:ref(repo, "v1"), dst:ref("m/" .. repo, "v1"))
    plan:copy(broken:ref(brepo, "v1"), dst:ref("m/" .. brepo, "v1"))
    local sizes = {}
    for run = 1, 20 do
      -- the source tag moves on between runs, as in a mirror loop: new blobs every time
      H.mkimage("plain", "single", repo, "v1", "--layers", "2", "--layer-size", "1K")
      local report = plan:run()
      assert.equal(1, report.copied, "run " .. run)
      assert.equal(1, report.failed, "run " .. run)
      sizes[run] = module_state_size()
    end
    H.stop_proxy(lost)
    for run = 2, 20 do
      assert(sizes[run] <= sizes[1], ("run %d left %d entries, run 1 %d: %s"):format(run, sizes[run], sizes[1],
        table.concat(sizes, " ")))
    end
  end)

  it("a copy given its own session mounts only from what that session saw", function()
    local copy = require "isync.copy"
    local src, dst = H.registry("plain"), H.registry("plain2")
    local repo = H.unique("state/session-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local s1, s2 = copy.session(), copy.session()
    local a = assert(isync.copy(src, repo, "v1", dst, "m/" .. repo .. "-a", "v1", { session = s1 }))
    assert.equal(2, a.stats.blobs_copied)
    local b = assert(isync.copy(src, repo, "v1", dst, "m/" .. repo .. "-b", "v1", { session = s2 }))
    assert.equal(2, b.stats.blobs_copied)   -- s2 never saw repo -a
    assert.equal(0, b.stats.blobs_mounted)
    local c = assert(isync.copy(src, repo, "v1", dst, "m/" .. repo .. "-c", "v1", { session = s1 }))
    assert.equal(2, c.stats.blobs_mounted)
    assert.equal(0, c.stats.blobs_copied)
  end)

  it("two plans at once each see their own retries; isync.on_retry sees both", function()
    -- plan a reads through a proxy that answers 503 three times; plan b has no faults
    local flaky = H.start_proxy("plain", dir, "flaky", "--status503 100 --max-faults 3 --only '/v2/.+'")
    local src_a = isync.registry(flaky.addr, { plain_http = true, docker_config = false, retry = { base = 0.05 } })
    local src_b, dst = H.registry("plain"), H.registry("plain2")
    local ra, rb = H.unique("state/a-"), H.unique("state/b-")
    H.mkimage("plain", "single", ra, "v1", "--layers", "1", "--layer-size", "1K")
    H.mkimage("plain", "single", rb, "v1", "--layers", "2", "--layer-size", "1K")
    local seen_global = {}
    isync.on_retry = function(reg) seen_global[#seen_global + 1] = reg.name end
    local pa = isync.plan { ledger = false, log = { file = dir .. "/a.log", level = "verbose" } }
    pa:copy(src_a:ref(ra, "v1"), dst:ref("m/" .. ra, "v1"))
    local pb = isync.plan { ledger = false, log = { file = dir .. "/b.log", level = "verbose" } }
    pb:copy(src_b:ref(rb, "v1"), dst:ref("m/" .. rb, "v1"))
    local reports = isync.run(function()
      local ta = isync.spawn(function() return pa:run() end)
      local tb = isync.spawn(function() return pb:run() end)
      return isync.all { ta, tb }
    end)
    H.stop_proxy(flaky)
    assert.equal(1, reports[1].copied)
    assert.equal(1, reports[2].copied)
    assert.equal(3, count_lines(dir .. "/a.log", "retry [%w_]+ on "), H.read(dir .. "/a.log"))
    assert.equal(0, count_lines(dir .. "/b.log", "retry [%w_]+ on "), H.read(dir .. "/b.log"))
    assert.same({ flaky.addr, flaky.addr, flaky.addr }, seen_global)
  end)

  it("a plan that fails leaves isync.on_retry as it was, and its run names every image", function()
    -- plan a fails at its first retry (the user's hook raises); plan b runs on, slowly
    local flaky = H.start_proxy("plain", dir, "flaky", "--status503 100 --only '/v2/.+'")
    local slow = H.start_proxy("plain", dir, "slow", "--delay-ms 150")
    local src_a = isync.registry(flaky.addr, { plain_http = true, docker_config = false, retry = { base = 0.05 } })
    local src_b = isync.registry(slow.addr, { plain_http = true, docker_config = false })
    local src, dst = H.registry("plain"), H.registry("plain2")
    local ra, rb, rx = H.unique("state/fa-"), H.unique("state/fb-"), H.unique("state/fx-")
    for _, r in ipairs { ra, rb, rx } do H.mkimage("plain", "single", r, "v1", "--layers", "1", "--layer-size", "1K") end
    local pa = isync.plan { ledger = false, retries = 0, report = dir .. "/a.json", log = { file = dir .. "/run.log" } }
    pa:copy(src:ref(rx, "v1"), dst:ref("m/" .. rx, "v1"))
    pa:copy(src_a:ref(ra, "v1"), dst:ref("m/" .. ra, "v1"))
    -- run 1: the flaky image fails after its retries, the other is copied
    local r1 = pa:run()
    assert.equal(1, r1.copied)
    assert.equal(1, r1.failed)

    local function user_hook(reg)
      if reg.name == flaky.addr then error("the user's hook gave up", 0) end
    end
    isync.on_retry = user_hook
    local pb = isync.plan { ledger = false, log = { file = dir .. "/b.log" } }
    pb:copy(src_b:ref(rb, "v1"), dst:ref("m/" .. rb, "v1"))
    local res = isync.run(function()
      local ta = isync.spawn(function() return pcall(pa.run, pa) end)
      local tb = isync.spawn(function() return pb:run() end)
      local ok, err = isync.wait(ta)
      assert.is_true(tb.status ~= "done", "plan b ended before plan a failed: the test proves nothing")
      return { ok = ok, err = err, b = isync.wait(tb) }
    end)
    H.stop_proxy(flaky)
    H.stop_proxy(slow)
    assert.is_false(res.ok)
    assert.matches("the user's hook gave up", tostring(res.err))
    assert.equal(1, res.b.copied)
    assert.equal(user_hook, isync.on_retry)
    -- run 2 was cut short: its report still names both images, the unfinished one too
    local images = report_of(dir .. "/a.json")
    local a = images[flaky.addr .. "/" .. ra .. ":v1"]
    assert.truthy(a, H.read(dir .. "/a.json"))
    assert.equal("failed", a.status)
    assert.matches("the user's hook gave up", a.reason)
    assert.truthy(images[H.env("ISYNC_T_PLAIN") .. "/" .. rx .. ":v1"], H.read(dir .. "/a.json"))
  end)
end)
