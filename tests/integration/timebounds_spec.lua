-- Time bounds: a registry that stalls (before its status line, mid-manifest, mid-blob, or
-- while reading an upload), one that asks for an hour's wait, and an address where nothing
-- answers each fail their image within a bounded time with a clear message, and the other
-- images of the run still sync. The stalls come from tests/tools/faultproxy.py in front of
-- a real registry; the run uses a 2 s stall timeout.
local H = require "helpers"
local json = require "isync.json"
local isync = require "isync"

-- seconds: measured 3-8 s on the 2-core box (curl notices a stall only once its 5 s speed
-- window has emptied, so a stall mid-body takes up to 7 s); without the budget it is minutes
local BOUND = 40

local function seed(repo)
  H.mkimage("plain", "single", repo, "v1", "--layers", "2", "--layer-size", "300K")
end

-- Runs the image-syncer mode over pairs {src, dst} and returns what happened. `timeout`
-- keeps a regression from hanging the suite: it turns into a failed bound instead.
local function sync(dir, pairs_, flags)
  local auth, images = {}, {}
  for _, p in ipairs(pairs_) do
    for _, ref in ipairs { p[1], p[2] } do auth[ref:match("^[^/]+")] = { insecure = true } end
    images[p[1]] = p[2]
  end
  H.write(dir .. "/auth.json", json.encode(auth))
  H.write(dir .. "/images.json", json.encode(images))
  local t0 = isync.monotime()
  local ok, out = H.sh(("timeout 90 %s --auth %s --images %s --no-ledger --stall-timeout 2 --log %s --report %s --verbose %s"):format(
    H.q(H.bin), H.q(dir .. "/auth.json"), H.q(dir .. "/images.json"), H.q(dir .. "/log"), H.q(dir .. "/report.json"),
    flags or ""))
  local r = { ok = ok, out = out, seconds = isync.monotime() - t0, log = H.read(dir .. "/log") or "", by_source = {} }
  local rep = json.decode(H.read(dir .. "/report.json") or "{}") or {}
  for _, e in ipairs(rep.images or {}) do r.by_source[e.source] = e end
  r.what = ("%.1f s, output: %s\nlog:\n%s"):format(r.seconds, out, r.log)
  io.stderr:write(("# sync took %.1f s\n"):format(r.seconds))   -- the figure behind BOUND
  return r
end

-- One stalled image and one healthy one, both from the source proxy's registry.
local function source_fault(name, proxy_args)
  local dir = H.tmpdir()
  local bad, good = H.unique("tb/" .. name .. "-bad"), H.unique("tb/" .. name .. "-good")
  seed(bad); seed(good)
  local proxy = H.start_proxy("plain", dir, "proxy", proxy_args:format(bad))
  local dst = H.env("ISYNC_T_PLAIN2")
  local r = sync(dir, { { proxy.addr .. "/" .. bad .. ":v1", dst .. "/m/" .. bad },
                        { proxy.addr .. "/" .. good .. ":v1", dst .. "/m/" .. good } })
  H.stop_proxy(proxy)
  r.proxy_log = H.read(proxy.log) or ""
  r.bad = r.by_source[proxy.addr .. "/" .. bad .. ":v1"]
  r.good = r.by_source[proxy.addr .. "/" .. good .. ":v1"]
  r.proxy, r.bad_repo, r.good_repo, r.dir = proxy, bad, good, dir
  return r
end

local function assert_stall_failed(r, fault, max_stalls)
  assert.is_false(r.ok, r.what)
  assert(r.bad and r.good, "both images in the report: " .. r.what)
  assert.matches("fault=" .. fault, r.proxy_log)                     -- the stall really happened
  assert.equal("failed", r.bad.status, r.what)
  assert.equal("TIMEOUT", r.bad.code, r.what)
  assert.matches("too slow", r.bad.reason, 1, true)
  assert.matches(r.proxy.addr, r.bad.reason, 1, true)               -- names the registry
  assert.matches("stall budget", r.bad.reason, 1, true)             -- and why it was not retried
  assert.equal("copied", r.good.status, r.what)
  assert(H.verify("plain", r.good_repo, "v1", "plain2", "m/" .. r.good_repo, "v1"))
  assert.is_true(r.seconds < BOUND, r.what)
  -- the image's requests stall at once (at most one per blob: 2 layers and the config),
  -- never again in a retry or a later round
  local _, stalls = r.proxy_log:gsub("fault=" .. fault, "")
  assert.is_true(stalls >= 1 and stalls <= (max_stalls or 3), stalls .. " stalls: " .. r.what)
  H.rm(r.dir)
end

describe("time bounds", function()
  it("a registry that never sends its status line fails that image in one stall timeout", function()
    assert_stall_failed(source_fault("head", "--stall-head 100 --only '/v2/%s/manifests/'"), "stall%-head", 1)
  end)

  it("a manifest that stops mid-body fails that image in one stall timeout", function()
    assert_stall_failed(source_fault("manifest", "--stall-body 100 --methods GET --only '/v2/%s/manifests/'"), "stall%-body", 1)
  end)

  it("a blob that stops mid-body fails that image in one stall timeout", function()
    assert_stall_failed(source_fault("blob", "--stall-body 100 --methods GET --only '/v2/%s/blobs/'"), "stall%-body")
  end)

  it("a destination that stops reading an upload fails that image in one stall timeout", function()
    local dir = H.tmpdir()
    local bad, good = H.unique("tb/upload-bad"), H.unique("tb/upload-good")
    seed(bad); seed(good)
    local proxy = H.start_proxy("plain2", dir, "proxy", ("--stall-upload 100 --only '/v2/m/%s/blobs/uploads/'"):format(bad))
    local src = H.env("ISYNC_T_PLAIN")
    local r = sync(dir, { { src .. "/" .. bad .. ":v1", proxy.addr .. "/m/" .. bad },
                          { src .. "/" .. good .. ":v1", proxy.addr .. "/m/" .. good } })
    H.stop_proxy(proxy)
    r.proxy_log = H.read(proxy.log) or ""
    r.bad, r.good = r.by_source[src .. "/" .. bad .. ":v1"], r.by_source[src .. "/" .. good .. ":v1"]
    r.proxy, r.good_repo, r.dir = proxy, good, dir
    assert_stall_failed(r, "stall%-upload")
  end)

  it("a Retry-After beyond the cap fails the image at once, naming the registry and the wait", function()
    local r = source_fault("ra", "--status429 100 --retry-after 3600 --only '/v2/%s/manifests/'")
    assert.is_false(r.ok, r.what)
    assert(r.bad and r.good, r.what)
    assert.equal("failed", r.bad.status, r.what)
    assert.equal("TOOMANYREQUESTS", r.bad.code, r.what)
    assert.matches(r.proxy.addr .. " asked to retry after 3600 s, more than the 300 s allowed", r.bad.reason, 1, true)
    assert.equal("copied", r.good.status, r.what)
    assert.is_true(r.seconds < BOUND, r.what)
    local _, n = r.proxy_log:gsub("fault=429", "")
    assert.equal(1, n, r.what)   -- asked once: no retry, no further round
    H.rm(r.dir)
  end)

  it("a Retry-After within the cap is obeyed", function()
    local r = source_fault("ra-ok", "--status429 100 --max-faults 1 --retry-after 2 --only '/v2/%s/manifests/'")
    assert(r.ok, r.what)
    assert.equal("copied", r.bad.status, r.what)
    assert.matches("in 2.0s (attempt 2)", r.log, 1, true)
    assert.is_true(r.seconds >= 2, r.what)   -- it did wait
    assert(H.verify("plain", r.bad_repo, "v1", "plain2", "m/" .. r.bad_repo, "v1"))
    H.rm(r.dir)
  end)

  it("an address that refuses connections fails fast, without rounds", function()
    local dir = H.tmpdir()
    local good = H.unique("tb/conn-good")
    seed(good)
    -- a port nothing listens on: bound by the kernel, then closed again
    local _, port = H.sh([[python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])']])
    port = assert(port:match("%d+"))
    local dst = H.env("ISYNC_T_PLAIN2")
    -- (only 127.0.0.1: an unresolvable name would ask the machine's DNS server)
    local refused = "127.0.0.1:" .. port .. "/a/b:v1"
    local src = H.env("ISYNC_T_PLAIN")
    local r = sync(dir, { { refused, dst .. "/m/refused" }, { src .. "/" .. good .. ":v1", dst .. "/m/" .. good } })
    assert.is_false(r.ok, r.what)
    local a = r.by_source[refused]
    assert(a, r.what)
    assert.equal("CONNECT", a.code, r.what)
    assert.matches("127.0.0.1:" .. port, a.reason, 1, true)
    assert.equal("copied", r.by_source[src .. "/" .. good .. ":v1"].status, r.what)
    assert.is_false(r.log:find("retry later", 1, true) ~= nil, r.what)   -- no image-level round
    assert.is_true(r.seconds < 15, r.what)
    H.rm(dir)
  end)
end)
