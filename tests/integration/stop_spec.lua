-- Stopping the engine: every waiter gets an answer, and Ctrl-C's upload cleanup is bounded
-- in total, not per upload.
local H = require "helpers"

local function run_for(seconds, script, ...)
  local p = os.tmpname() .. ".lua"
  H.write(p, script)
  local args = {}
  for _, a in ipairs { ... } do args[#args + 1] = H.q(a) end
  local ok, out = H.sh(("s=$(date +%%s%%N); timeout %d %s %s %s; rc=$?; echo; echo rc=$rc ms=$(( ($(date +%%s%%N) - s) / 1000000 ))")
    :format(seconds, H.q(H.bin), H.q(p), table.concat(args, " ")))
  os.remove(p)
  assert(ok, out)
  local rc, ms = out:match("rc=(%d+) ms=(%d+)")
  return out, tonumber(rc), tonumber(ms)
end

describe("core.stop()", function()
  it("ends every job still waiting, CANCELED, instead of leaving its waiter hanging", function()
    local repo = H.unique("stop/waiters-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local dir = H.tmpdir()
    -- every manifest request takes 20 s: none can finish before the stop
    local proxy = H.start_proxy("plain", dir, "slow", "--delay-ms 20000 --only /manifests/")
    local out, rc, ms = run_for(60, [[
      local isync = require "isync"
      local core = require "isync.core"
      local addr, repo = ...
      local reg = isync.registry(addr, { plain_http = true, docker_config = false, retry = false })
      local tasks = {}
      for i = 1, 50 do
        tasks[i] = isync.spawn(function() return select(3, reg:manifest(repo, "v1")) end)
      end
      isync.spawn(function() isync.sleep(0.5); core.stop() end)
      local codes = {}
      for i, t in ipairs(tasks) do codes[i] = tostring(isync.wait(t)) end
      print("codes=" .. table.concat(codes, ","))
    ]], proxy.addr, repo)
    H.stop_proxy(proxy)
    H.rm(dir)
    assert.equal(0, rc, out)
    local codes = out:match("codes=([%w_,]+)")
    assert.truthy(codes, out)
    local n = 0
    for c in codes:gmatch("[^,]+") do
      assert.equal("CANCELED", c, out)
      n = n + 1
    end
    assert.equal(50, n)
    assert.is_true(ms < 15000, "took " .. ms .. " ms")
  end)
end)

describe("Ctrl-C with several uploads open", function()
  it("DELETEs them all at once, within one bound for them all", function()
    local repo = H.unique("stop/uploads-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "6", "--layer-size", "3M")
    local dir = H.tmpdir()
    -- the source trickles blob bodies, so every upload is open when Ctrl-C comes;
    -- the destination answers each DELETE only after 2.5 s (serial DELETEs would take 15 s)
    local src = H.start_proxy("plain", dir, "src", "--rate 100000 --only /blobs/sha256")
    local dst = H.start_proxy("plain2", dir, "dst", "--delay-ms 2500 --methods DELETE")
    local dst_repo = repo .. "-copy"
    local cmd = table.concat({ "exec", H.q(H.bin), "cp", "--plain-http",
      src.addr .. "/" .. repo .. ":v1", dst.addr .. "/" .. dst_repo .. ":v1" }, " ")
    -- Ctrl-C once uploads are open at the destination (POSTs in its proxy's log)
    local ok, out = H.sh(("(%s) & pid=$!; for i in $(seq 100); do " ..
      "n=$(grep -c 'POST /v2/.*/blobs/uploads' %s 2>/dev/null); [ \"${n:-0}\" -ge 4 ] && break; sleep 0.1; done; " ..
      "kill -INT $pid; start=$(date +%%s%%N); wait $pid; rc=$?; " ..
      "echo rc=$rc ms=$(( ($(date +%%s%%N) - start) / 1000000 ))"):format(cmd, H.q(dst.log)))
    H.stop_proxy(src)
    H.stop_proxy(dst)
    local log = H.read(dst.log) or ""
    H.rm(dir)
    assert(ok, out)
    local rc, ms = out:match("rc=(%d+) ms=(%d+)")
    assert.equal(130, tonumber(rc), out)
    local posts, deletes = 0, 0
    for l in log:gmatch("[^\n]+") do
      if l:match("^POST /v2/.*/blobs/uploads") then posts = posts + 1 end
      if l:match("^DELETE /v2/.*/blobs/uploads/") then deletes = deletes + 1 end
    end
    assert.is_true(posts >= 4, log)
    assert.equal(posts, deletes, log)   -- no blob finished: every session opened is deleted
    assert.is_true(tonumber(ms) < 8000, "took " .. ms .. " ms to stop")
  end)
end)

describe("Ctrl-C at different moments of a copy", function()
  -- The SIGINT handler may only run on the Lua thread (the engine blocks signals); whatever
  -- the copy is doing when it comes (ping, token, blob reads, uploads), the host must take
  -- its own exit path: "isync: interrupted", status 130, nothing from the sanitizers.
  it("exits 130 through the clean path every time", function()
    local repo = H.unique("stop/moments-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "4", "--layer-size", "1M")
    for i, delay in ipairs { 0, 0.2, 0.5, 1.0, 1.5 } do
      local dir = H.tmpdir()
      local src = H.start_proxy("plain", dir, "src", "--rate 200000 --only /blobs/sha256")
      local cmd = table.concat({ "exec", H.q(H.bin), "cp", "--plain-http",
        src.addr .. "/" .. repo .. ":v1", H.target("plain2").addr .. "/" .. repo .. "-m" .. i .. ":v1" }, " ")
      -- wait for the first request (the handler is installed by then), then the delay
      local ok, out = H.sh(("(%s) 2>%s & pid=$!; for i in $(seq 200); do " ..
        "[ -s %s ] && break; sleep 0.05; done; sleep %s; kill -INT $pid; wait $pid; echo rc=$?")
        :format(cmd, H.q(dir .. "/err"), H.q(src.log), tostring(delay)))
      H.stop_proxy(src)
      local err = H.read(dir .. "/err") or ""
      H.rm(dir)
      assert(ok, out)
      local what = ("delay %s s: %s %s"):format(delay, out, err)
      assert.equal("130", out:match("rc=(%d+)"), what)
      assert.matches("isync: interrupted", err, 1, true, what)
      assert.is_nil(err:find("Sanitizer", 1, true), what)
      assert.is_nil(err:find("runtime error", 1, true), what)
    end
  end)
end)
