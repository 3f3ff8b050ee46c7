-- The work queue (isync --queue, isync worker, isync status) with a real redis-server of
-- its own (AOF on, fsync always) and the real registries: several workers give the same
-- result as one process, a shared base layer is uploaded once in total, a worker killed
-- mid-blob has its image finished by the others, and a Redis restart loses nothing.
local H = require "helpers"
local json = require "isync.json"

local q = H.q

local function free_port()
  local _, out = H.sh([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
  return assert(tonumber(out:match("%d+")), out)
end

local function start_redis(dir, port)
  local _, out = H.sh(("nohup redis-server --bind 127.0.0.1 --port %d --dir %s --appendonly yes --appendfsync always "
    .. "--save '' --logfile %s >/dev/null 2>&1 & echo $!"):format(port, q(dir), q(dir .. "/redis.log")))
  local pid = assert(tonumber(out:match("(%d+)")), out)
  for _ = 1, 100 do
    if H.sh(("redis-cli -p %d ping 2>/dev/null | grep -q PONG"):format(port)) then return pid end
    H.sh("sleep 0.05")
  end
  error("redis-server did not start: " .. (H.read(dir .. "/redis.log") or ""))
end

local function now() return tonumber((select(2, H.sh("date +%s.%N")))) end

local function alive(pid) return (H.sh("kill -0 " .. pid .. " 2>/dev/null")) end

-- Waits for the processes to end (at most seconds); true when all did.
local function wait_all(pids, seconds)
  local t0 = os.time()
  while os.time() - t0 < seconds do
    local any = false
    for _, pid in ipairs(pids) do any = any or alive(pid) end
    if not any then return true end
    H.sh("sleep 0.1")
  end
  return false
end

local function worker(dir, name, url, extra)
  local _, out = H.sh(("nohup %s worker --queue %s --claim-idle 2 --lease-ttl 2 %s > %s 2>&1 & echo $!"):format(
    q(H.bin), q(url), extra or "", q(dir .. "/" .. name .. ".log")))
  return (assert(tonumber(out:match("(%d+)")), out))
end

local function status(url, args)
  local ok, out, code = H.isync("status --json --queue " .. q(url) .. " " .. (args or ""))
  local st = json.decode(out:match("{.*}") or "")
  assert(type(st) == "table", out)
  return st, code, ok
end

-- An images file: each source repository to its destination repository, every tag.
local function images_file(path, pairs)
  local lines = {}
  for _, p in ipairs(pairs) do lines[#lines + 1] = ("%s: %s"):format(p[1], p[2]) end
  H.write(path, table.concat(lines, "\n") .. "\n")
end

describe("the work queue on Redis", function()
  local dir, port, url, redis_pid
  local src, dst

  setup(function()
    dir = H.tmpdir()
    port = free_port()
    url = ("redis://127.0.0.1:%d/0"):format(port)
    redis_pid = start_redis(dir, port)
    src, dst = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2")
  end)

  teardown(function()
    if redis_pid then H.sh("kill " .. redis_pid .. " 2>/dev/null") end
    if os.getenv("ISYNC_T_KEEP") then print("# kept " .. dir) else H.rm(dir) end
  end)

  before_each(function() H.sh(("redis-cli -p %d flushall >/dev/null"):format(port)) end)

  it("3 workers sync what one process syncs, the shared base layer uploaded once in total", function()
    local u = H.unique("qa")
    local images, base = {}, nil
    for i = 1, 4 do
      local img = H.mkimage("plain", "single", u .. "/app" .. i, "v1", "--base", "3M:" .. u, "--layers", "1",
        "--layer-size", "64K")
      images[i] = img
      for _, b in ipairs(img.blobs) do if b.size == 3 * 1024 * 1024 then base = b.digest end end
    end
    assert.truthy(base)
    local qpairs, spairs = {}, {}
    for i = 1, 4 do
      qpairs[i] = { ("%s/%s/app%d"):format(src, u, i), ("%s/%sq/app%d"):format(dst, u, i) }
      spairs[i] = { ("%s/%s/app%d"):format(src, u, i), ("%s/%ss/app%d"):format(dst, u, i) }
    end
    images_file(dir .. "/q.yaml", qpairs)
    images_file(dir .. "/s.yaml", spairs)

    local ok, out = H.isync(("--images %s --queue %s"):format(q(dir .. "/q.yaml"), q(url)))
    assert(ok, out)
    assert.matches("enqueued 4 images", out)
    local st, code = status(url)
    assert.same({ 4, 4, 0, 0, false }, { st.total, st.pending, st.done, st.failed, st.finished })
    assert.equal(3, code)   -- not finished yet

    local mark = H.log_mark("plain2")
    local t0 = now()
    local pids = {}
    for w = 1, 3 do pids[w] = worker(dir, "w" .. w, url, "-p 2") end
    assert.is_true(wait_all(pids, 40), "the workers did not finish")
    local seconds = now() - t0
    local puts = H.count(H.requests_since("plain2", mark), "PUT", base:sub(8))
    print(("# 3 workers: 4 images in %.1f s; PUTs of the shared 3 MiB layer: %d"):format(seconds, puts))
    assert.equal(1, puts)

    st, code = status(url, "--report " .. q(dir .. "/q.json") .. " --output-failed-images " .. q(dir .. "/failed.yaml"))
    assert.same({ 4, 0, 0, 4, 0, true }, { st.total, st.pending, st.running, st.done, st.failed, st.finished })
    assert.equal(0, code)
    assert.equal("{}\n", H.read(dir .. "/failed.yaml"))

    -- one process, the same images into other repositories: the same report and images
    ok, out = H.isync(("--images %s --no-ledger --report %s"):format(q(dir .. "/s.yaml"), q(dir .. "/s.json")))
    assert(ok, out)
    local qr, sr = json.decode(H.read(dir .. "/q.json")), json.decode(H.read(dir .. "/s.json"))
    assert.equal(4, #qr.images)
    assert.equal(sr.copied, qr.copied)
    for i, e in ipairs(qr.images) do
      local s = sr.images[i]
      assert.equal(s.source, e.source)
      assert.equal(s.destination:gsub(u .. "s/", u .. "q/"), e.destination)
      assert.same({ "copied", s.digest }, { e.status, e.digest })
    end
    for i = 1, 4 do
      local vok, vout = H.verify("plain", u .. "/app" .. i, "v1", "plain2", u .. "q/app" .. i, "v1")
      assert(vok, vout)
    end
  end)

  it("finishes the image of a worker killed mid-blob (XAUTOCLAIM)", function()
    local u = H.unique("qk")
    local big = H.mkimage("plain", "single", u .. "/big", "v1", "--layers", "1", "--layer-size", "2M")
    H.mkimage("plain", "single", u .. "/small", "v1", "--layers", "1", "--layer-size", "8K")
    local layer
    for _, b in ipairs(big.blobs) do if b.size == 2 * 1024 * 1024 then layer = b.digest end end
    -- 2 MiB at 1 MB/s: the blob is still moving when the worker is killed
    local proxy = H.start_proxy("plain", dir, "slow", "--only '/blobs/" .. layer .. "' --rate 1000000")
    finally(function() H.stop_proxy(proxy) end)
    images_file(dir .. "/k.yaml", {
      { ("%s/%s/big"):format(proxy.addr, u), ("%s/%s/big"):format(dst, u) },
      { ("%s/%s/small"):format(proxy.addr, u), ("%s/%s/small"):format(dst, u) },
    })
    local ok, out = H.isync(("--images %s --queue %s"):format(q(dir .. "/k.yaml"), q(url)))
    assert(ok, out)

    local mark = H.log_mark("plain2")
    local doomed = worker(dir, "doomed", url, "-p 1")
    -- wait until its upload of the big blob is open at the destination, then kill it
    local function uploading()
      return H.count(H.requests_since("plain2", mark), "POST", u .. "/big/blobs/uploads/") > 0
    end
    local t0 = os.time()
    while not uploading() and os.time() - t0 < 15 do H.sh("sleep 0.1") end
    assert.is_true(uploading(), "the doomed worker never started the upload")
    H.sh("sleep 0.5")
    H.sh("kill -9 " .. doomed)
    assert.is_nil((H.read(dir .. "/doomed.log") or ""):find("copied [^\n]*/big:v1"))   -- it did die mid-blob
    local st = status(url)
    assert.equal(1, st.running)   -- its entry is pending: delivered, never acknowledged

    local pids = { worker(dir, "heir1", url, "-p 2"), worker(dir, "heir2", url, "-p 2") }
    assert.is_true(wait_all(pids, 40), "the other workers did not finish")
    local logs = (H.read(dir .. "/heir1.log") or "") .. (H.read(dir .. "/heir2.log") or "")
    assert.matches("took over 1 image of a worker gone quiet", logs)
    print("# after the kill: " .. (logs:match("[^\n]*took over[^\n]*") or "?"))
    st = status(url, "--report " .. q(dir .. "/k.json"))
    assert.same({ 2, 2, 0, true }, { st.total, st.done, st.failed, st.finished })
    local report = json.decode(H.read(dir .. "/k.json"))
    for _, e in ipairs(report.images) do assert.equal("copied", e.status) end
    local vok, vout = H.verify("plain", u .. "/big", "v1", "plain2", u .. "/big", "v1")
    assert(vok, vout)
  end)

  it("loses nothing when Redis restarts mid-run (AOF)", function()
    local u = H.unique("qr")
    local pairs_ = {}
    for i = 1, 4 do
      H.mkimage("plain", "single", u .. "/img" .. i, "v1", "--layers", "1", "--layer-size", "256K")
      pairs_[i] = { ("%s/%s/img%d"):format("PROXY", u, i), ("%s/%s/img%d"):format(dst, u, i) }
    end
    -- every blob at 256 KB/s: the run lasts a few seconds, the restart falls inside it
    local proxy = H.start_proxy("plain", dir, "slow2", "--only '/blobs/sha256' --rate 256000")
    finally(function() H.stop_proxy(proxy) end)
    for _, p in ipairs(pairs_) do p[1] = p[1]:gsub("PROXY", proxy.addr) end
    images_file(dir .. "/r.yaml", pairs_)
    local ok, out = H.isync(("--images %s --queue %s"):format(q(dir .. "/r.yaml"), q(url)))
    assert(ok, out)
    local pids = { worker(dir, "r1", url, "-p 1"), worker(dir, "r2", url, "-p 1") }
    H.sh("sleep 1")
    local before = status(url)
    assert.is_true(before.done < 4, "the run ended before the restart")
    H.sh("kill " .. redis_pid)   -- SIGTERM: Redis shuts down (AOF on disk)
    while alive(redis_pid) do H.sh("sleep 0.05") end
    H.sh("sleep 1")
    redis_pid = start_redis(dir, port)
    assert.is_true(wait_all(pids, 40), "the workers did not finish after the restart")
    local logs = (H.read(dir .. "/r1.log") or "") .. (H.read(dir .. "/r2.log") or "")
    assert.matches("redis unreachable, waiting", logs)
    local st = status(url)
    assert.same({ 4, 4, 0, 0, 0, true }, { st.total, st.done, st.failed, st.pending, st.running, st.finished })
    local _, xlen = H.sh(("redis-cli -p %d xlen isync:pairs"):format(port))
    assert.equal(4, tonumber(xlen:match("%d+")))   -- nothing enqueued twice, nothing lost
    for i = 1, 4 do
      local vok, vout = H.verify("plain", u .. "/img" .. i, "v1", "plain2", u .. "/img" .. i, "v1")
      assert(vok, vout)
    end
  end)
end)
