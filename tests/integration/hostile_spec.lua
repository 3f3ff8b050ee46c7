-- Hostile registries: tests/tools/hostile.py in front of a real registry misbehaves per
-- scenario, with a "foreign host" listener (another origin) that logs every request and
-- whether it carried credentials. isync must answer each with a clear one-line error or a
-- correct result, in bounded time and memory, and never send the user's credentials (or
-- the registry's token) to another origin.
local H = require "helpers"
local json = require "isync.json"
local isync = require "isync"

local USER, PASS = "mallory-victim", "pw-" .. tostring(os.time()) .. "-" .. tostring(math.random(1e9))

local function start(dir, scenario, with_user)
  local pf, log, flog = dir .. "/" .. scenario .. ".port", dir .. "/" .. scenario .. ".log", dir .. "/" .. scenario .. ".foreign"
  local cmd = ("python3 %s --upstream %s --scenario %s --port-file %s --log %s --foreign-log %s %s"):format(
    H.q(H.root .. "/tests/tools/hostile.py"), H.env("ISYNC_T_PLAIN"), scenario, H.q(pf), H.q(log), H.q(flog),
    with_user and ("--user " .. USER) or "")
  local _, out = H.sh(("HOSTILE_PASSWORD=%s nohup %s >/dev/null 2>&1 & echo $!"):format(H.q(PASS), cmd))
  local pid = assert(tonumber(out:match("(%d+)")), out)
  for _ = 1, 100 do
    if H.read(pf) then break end
    H.sh("sleep 0.05")
  end
  local p1, p2 = assert(H.read(pf), "hostile.py did not start"):match("(%d+) (%d+)")
  return { pid = pid, addr = "127.0.0.1:" .. p1, foreign = "127.0.0.1:" .. p2, log = log, flog = flog }
end
local function stop(h) H.sh("kill " .. h.pid .. " 2>/dev/null") end

local function reg_of(h, with_user, extra)
  local o = { plain_http = true, docker_config = false }
  if with_user then o.username, o.password = USER, PASS end
  for k, v in pairs(extra or {}) do o[k] = v end
  return isync.registry(h.addr, o)
end

local function lines(path, pat)
  local n = 0
  for l in (H.read(path) or ""):gmatch("[^\n]+") do if l:find(pat) then n = n + 1 end end
  return n
end

-- a one-line message naming things, never the password
local function clear(msg)
  assert.is_string(msg)
  assert.is_nil(msg:find("\n", 1, true), msg)
  assert.is_nil(msg:find(PASS, 1, true), msg)
end

-- the isync host under /usr/bin/time: ok, output, peak RSS in kB
local function isync_rss(args)
  local ok, out = H.sh("/usr/bin/time -f 'maxrss_kb=%M' " .. H.q(H.bin) .. " " .. args)
  local rss = tonumber(out:match("maxrss_kb=(%d+)"))
  return ok, out:gsub("maxrss_kb=%d+\n?", ""), rss
end

describe("a hostile registry", function()
  local dir, repo, config
  setup(function()
    dir = H.tmpdir()
    repo = H.unique("hostile/app-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "4K")
    local m = assert(H.registry("plain"):manifest(repo, "v1"))
    config = json.decode(m.bytes).config.digest
  end)
  teardown(function() H.rm(dir) end)

  it("link-foreign: a next page on another host is refused before any request; no credential leaves", function()
    local h = start(dir, "link-foreign", true)
    local t0 = os.time()
    local tags, err, code = reg_of(h, true):tags(repo)
    stop(h)
    assert.is_nil(tags)
    assert.equal("PROTOCOL", code)
    clear(err)
    assert.matches("registry " .. h.addr .. " named a next page on http://" .. h.foreign .. ", which is not the registry: refused", err, 1, true)
    assert.equal("", H.read(h.flog))                       -- the foreign host never heard from us
    assert.is_true(os.time() - t0 < 30)
  end)

  it("redirect-foreign-401: a redirect target's 401 teaches nothing and gets no credential", function()
    local h = start(dir, "redirect-foreign-401", true)
    local reg = reg_of(h, true)
    local t0 = os.time()
    local body, err, code = reg:blob(repo, config)
    local tags = reg:tags(repo)                             -- the session is not poisoned
    stop(h)
    assert.is_nil(body)
    assert.equal("UNAUTHORIZED", code)
    clear(err)
    assert.matches("HTTP 401", err, 1, true)
    local f = H.read(h.flog)
    assert.truthy(f:find("GET /v2/", 1, true), f)          -- curl followed the 307 there
    assert.is_nil(f:find("auth=basic", 1, true), f)        -- but with no credential
    assert.is_nil(f:find("auth=bearer", 1, true), f)
    assert.is_nil(f:find("/token", 1, true), f)             -- and its realm was never asked
    assert.same({ "v1" }, tags)
    assert.is_true(os.time() - t0 < 60)
  end)

  it("redirect-foreign-bearer: the registry's Bearer token does not follow a redirect to another host", function()
    local h = start(dir, "redirect-foreign-bearer", true)
    local reg = reg_of(h, true)
    local body, err, code = reg:blob(repo, config)
    local tags = reg:tags(repo)
    stop(h)
    assert.is_nil(body)
    assert.equal("UNAUTHORIZED", code)
    clear(err)
    assert.truthy(lines(h.log, "^GET /v2/.*/blobs/.* 307 auth=bearer") >= 1, H.read(h.log))   -- it was sent here
    local f = H.read(h.flog)
    assert.truthy(f:find("GET /v2/", 1, true), f)
    assert.is_nil(f:find("auth=bearer", 1, true), f)         -- and not there
    assert.is_nil(f:find("auth=basic", 1, true), f)
    assert.same({ "v1" }, tags)
    assert.equal(1, lines(h.log, "^GET /token"), H.read(h.log))   -- the foreign 401 cost no token
  end)

  it("link-loop: pages A -> B -> A fail with PROTOCOL naming the loop", function()
    local h = start(dir, "link-loop")
    local tags, err, code = reg_of(h):tags(repo)
    stop(h)
    assert.is_nil(tags)
    assert.equal("PROTOCOL", code)
    clear(err)
    assert.matches("pages loop back to http://" .. h.addr .. "/v2/" .. repo .. "/tags/list", err, 1, true)
    assert.is_true(lines(h.log, "^GET ") <= 4, H.read(h.log))
  end)

  it("link-huge: endless pages of tags stop at the listing bound, in bounded memory", function()
    local h = start(dir, "link-huge")
    local t0 = os.time()
    local ok, out, rss = isync_rss("ls --plain-http " .. H.q(h.addr .. "/" .. repo))
    local secs = os.time() - t0
    stop(h)
    io.stderr:write(("\n# link-huge: %d s, peak RSS %s kB, %d pages\n"):format(secs, rss, lines(h.log, "^GET .*tags")))
    assert.is_false(ok)
    assert.matches("TOO_LARGE", out, 1, true)
    assert.matches("the listing is larger than 1000000 entries or 64 MiB", out, 1, true)
    assert.is_true(lines(h.log, "^GET .*tags/list") <= 12, H.read(h.log))
    if not H.sanitized then assert.is_true(rss < 600 * 1024, "peak RSS " .. rss .. " kB") end
    assert.is_true(secs < 180)
  end)

  it("link-metadata: a next page on 169.254.169.254 is refused, never connected to", function()
    local h = start(dir, "link-metadata")
    local t0 = os.time()
    local tags, err, code = reg_of(h):tags(repo)
    stop(h)
    assert.is_nil(tags)
    assert.equal("PROTOCOL", code)
    clear(err)
    assert.matches("registry " .. h.addr .. " named a next page on http://169.254.169.254:80, which is not the registry: refused", err, 1, true)
    assert.is_true(os.time() - t0 < 10)                     -- no connect timeout was waited for
  end)

  it("redirect-loop: a blob GET follows at most 5 redirects per attempt", function()
    local h = start(dir, "redirect-loop")
    local body, err, code = reg_of(h, false, { retry = { attempts = 2, base = 0.1, max = 0.2 } }):blob(repo, config)
    stop(h)
    assert.is_nil(body)
    clear(err)
    assert.is_string(code)
    local hops = lines(h.log, "^GET /v2/.*/blobs/.* 302 ")
    io.stderr:write(("\n# redirect-loop: %d hops for 2 attempts\n"):format(hops))
    assert.is_true(hops >= 1 and hops <= 2 * 6, "hops " .. hops)
  end)

  it("token-huge: a 10 MB token answer fails with TOO_LARGE before it is parsed", function()
    local h = start(dir, "token-huge", true)
    local tags, err, code = reg_of(h, true):tags(repo)
    stop(h)
    assert.is_nil(tags)
    assert.equal("TOO_LARGE", code)
    clear(err)
    assert.matches("token request to http://" .. h.addr .. "/token: the answer is larger than 65536 bytes", err, 1, true)
  end)

  it("token-expires-huge: expires_in 1e300 is clamped: one token serves many requests", function()
    local h = start(dir, "token-expires-huge", true)
    local reg = reg_of(h, true)
    for _ = 1, 5 do assert.same({ "v1" }, assert(reg:tags(repo))) end
    stop(h)
    assert.equal(1, lines(h.log, "^GET /token"), H.read(h.log))
  end)

  it("retry-after-overflow: an overflowing Retry-After date is ignored, the request retried", function()
    local h = start(dir, "retry-after-overflow")
    local t0 = os.time()
    local tags, err = reg_of(h, false, { retry = { attempts = 5, base = 0.1, max = 0.5 } }):tags(repo)
    stop(h)
    assert.same({ "v1" }, tags, err)
    assert.equal(2, lines(h.log, " 429 "))
    assert.is_true(os.time() - t0 < 30)
  end)

  it("challenge-token68: a Negotiate token68 before Basic still lets Basic authenticate", function()
    local h = start(dir, "challenge-token68", true)
    local tags, err = reg_of(h, true):tags(repo)
    stop(h)
    assert.same({ "v1" }, tags, err)
    assert.truthy(lines(h.log, "auth=basic") >= 1)
  end)

  it("tags-escape: names with escape sequences never reach the terminal", function()
    local h = start(dir, "tags-escape")
    local ok, out = H.isync("ls --plain-http " .. H.q(h.addr .. "/" .. repo))
    stop(h)
    assert(ok, out)
    assert.is_nil(out:find("\27", 1, true), out)
    assert.matches("^v1\n", out:gsub("isync: warning:[^\n]*\n", ""))
  end)
end)
