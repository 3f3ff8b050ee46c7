-- isync serve against real servers on 127.0.0.1: a docker-registry 2.8 of its own whose
-- notifications endpoint is isync serve's /webhook, registry-env's plain registries, and a
-- real Prometheus scraping /metrics every second, read back through its query API.
local H = require "helpers"
local json = require "isync.json"
local isync = require "isync"

local q = H.q
local SECRET = "serve-spec-" .. tostring(os.time())

local function free_port()
  local ok, out = H.sh([[python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])']])
  assert(ok, out)
  return assert(tonumber(out:match("(%d+)")))
end

-- Starts CMD detached (its own session), stdout and stderr to LOG; returns its pid.
local function launch(dir, name, cmd, env)
  local prefix = ""
  for k, v in pairs(env or {}) do prefix = prefix .. k .. "=" .. q(v) .. " " end
  local pidfile = dir .. "/" .. name .. ".pid"
  assert(H.sh(("setsid sh -c 'echo $$ > %s; exec env %s %s' </dev/null >>%s 2>&1 &"):format(
    q(pidfile), prefix, cmd, q(dir .. "/" .. name .. ".log"))))
  for _ = 1, 50 do
    local pid = tonumber(H.read(pidfile) or "")
    if pid then return pid end
    H.sh("sleep 0.02")
  end
  error(name .. " did not start")
end

local function wait_for(what, seconds, fn)
  local deadline = isync.monotime() + seconds
  repeat
    local v = fn()
    if v then return v end
    H.sh("sleep 0.05")
  until isync.monotime() > deadline
  error(what .. ": not within " .. seconds .. " s")
end

-- curl: status code and body; nil when nothing answered (a server still starting)
local function http(args)
  local ok, out = H.sh("curl -s --noproxy '*' --max-time 5 -w '\\n%{http_code}' " .. args)
  if not ok then return nil, out end
  local body, code = out:match("^(.*)\n(%d+)$")
  return tonumber(code), body
end

describe("isync serve", function()
  local dir, src_addr, port, prom_port, pids = nil, nil, nil, nil, {}
  local plain, dst_addr = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2")
  local ns = H.unique("serve")
  local dst

  -- The value of one sample on isync's own /metrics (nil when absent).
  local function metric(series)
    local code, body = http(("http://127.0.0.1:%d/metrics"):format(port))
    assert.equal(200, code)
    for line in body:gmatch("[^\n]+") do
      local name, v = line:match("^(%S+) (%S+)$")
      if name == series then return tonumber(v) end
    end
  end

  local function webhook(headers, payload)
    local hs = ""
    for _, h in ipairs(headers) do hs = hs .. " -H " .. q(h) end
    local f = dir .. "/payload.json"
    H.write(f, json.encode(payload))
    return http(("-X POST%s -H 'Content-Type: application/json' --data-binary @%s http://127.0.0.1:%d/webhook"):format(
      hs, q(f), port))
  end

  local function has(repo, tag)
    local h = dst:head(repo, tag)
    return h and h.digest
  end

  lazy_setup(function()
    dir = H.tmpdir()
    port, prom_port = free_port(), free_port()
    -- the source registry: distribution 2.8 telling isync serve of every push
    H.write(dir .. "/src.yml", ([[
version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: %s/src
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:0
  secret: serve-spec
notifications:
  endpoints:
    - name: isync
      url: http://127.0.0.1:%d/webhook
      headers:
        Authorization: [Bearer %s]
      timeout: 2s
      threshold: 3
      backoff: 500ms
      ignoredmediatypes:
        - application/octet-stream
]]):format(dir, port, SECRET))
    pids.registry = launch(dir, "src", "docker-registry serve " .. q(dir .. "/src.yml"))
    src_addr = "127.0.0.1:" .. wait_for("the source registry's port", 10, function()
      return (H.read(dir .. "/src.log") or ""):match("listening on 127%.0%.0%.1:(%d+)")
    end)
    -- something for the first pass to copy, in each mapped repository
    local function push(addr, repo, tag)
      local ok, out = H.sh(("python3 %s --registry %s --plain-http single %s %s --layers 1 --layer-size 4K"):format(
        q(H.root .. "/tests/tools/mkimage.py"), q(addr), q(repo), q(tag)))
      assert(ok, out)
    end
    push(src_addr, "serve/app", "base")
    push(plain, ns .. "/harbor", "base")
    push(plain, ns .. "/forged", "base")
    H.write(dir .. "/images.yaml", table.concat({
      ("%s/serve/app: %s/%s/app"):format(src_addr, dst_addr, ns),
      ("%s/%s/harbor: %s/%s/harbor"):format(plain, ns, dst_addr, ns),
      ("%s/%s/forged: %s/%s/forged"):format(plain, ns, dst_addr, ns),
    }, "\n") .. "\n")
    pids.isync = launch(dir, "isync", ("%s serve --images %s --listen 127.0.0.1:%d --every 3600 --ledger %s --log %s"):format(
      q(H.bin), q(dir .. "/images.yaml"), port, q(dir .. "/ledger"), q(dir .. "/serve.log")),
      { ISYNC_WEBHOOK_SECRET = SECRET })
    H.write(dir .. "/prometheus.yml", ([[
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: isync
    scrape_interval: 1s
    scrape_timeout: 900ms
    static_configs:
      - targets: ["127.0.0.1:%d"]
]]):format(port))
    pids.prometheus = launch(dir, "prometheus", ("prometheus --config.file=%s --storage.tsdb.path=%s --web.listen-address=127.0.0.1:%d"):format(
      q(dir .. "/prometheus.yml"), q(dir .. "/prom-data"), prom_port))
    dst = H.registry("plain2")
    -- the first full pass has ended
    wait_for("the first pass", 20, function()
      local code, body = http(("http://127.0.0.1:%d/healthz"):format(port))
      return code == 200 and body:match("^last pass") ~= nil
    end)
  end)

  lazy_teardown(function()
    if pids.isync then H.sh("kill -INT " .. pids.isync) end
    for _, name in ipairs { "prometheus", "registry" } do
      if pids[name] then H.sh("kill " .. pids[name]) end
    end
    H.sh("sleep 0.3")
    H.rm(dir)
  end)

  it("copies every mapped image in its first pass, and says so on /healthz", function()
    assert.truthy(has(ns .. "/app", "base"), H.read(dir .. "/serve.log"))
    assert.truthy(has(ns .. "/harbor", "base"))
    assert.truthy(has(ns .. "/forged", "base"))
    local code, body = http(("http://127.0.0.1:%d/healthz"):format(port))
    assert.equal(200, code)
    -- (the source's notification of its base push may have copied that one first)
    assert.matches("^last pass [%dTZ:-]+: %d copied, %d unchanged, 0 failed", body)
    assert.equal(1, metric('isync_passes_total{result="ok"}'))
  end)

  it("mirrors a tag pushed to the source within a second of the push, without a full pass", function()
    -- the registry told isync of the base pushes as soon as it was listening: its queue is idle
    wait_for("the source's earlier notifications", 10, function()
      return (metric('isync_webhook_requests_total{result="accepted"}') or 0) >= 1
    end)
    local ok, out = H.sh(("python3 %s --registry %s --plain-http single serve/app pushed --layers 2 --layer-size 64K"):format(
      q(H.root .. "/tests/tools/mkimage.py"), q(src_addr)))
    assert(ok, out)
    local t0 = isync.monotime()
    wait_for("the pushed tag at the destination", 5, function() return has(ns .. "/app", "pushed") end)
    local latency = isync.monotime() - t0
    print(("# push-to-mirror latency: %.0f ms"):format(latency * 1000))
    assert.is_true(latency < 1.0, ("%.2f s"):format(latency))
    local src = isync.registry(src_addr, { plain_http = true, docker_config = false })
    assert.equal(assert(src:head("serve/app", "pushed")).digest, has(ns .. "/app", "pushed"))
    assert.equal(1, metric('isync_passes_total{result="ok"}'))   -- no second pass did it
    assert.is_true(metric('isync_webhook_events_total{result="synced"}') >= 1)
  end)

  it("refuses a webhook without the shared secret (401) and syncs nothing for it", function()
    H.mkimage("plain", "single", ns .. "/forged", "f1", "--layers", "1", "--layer-size", "1K")
    local payload = { events = { { action = "push", request = { host = plain },
      target = { repository = ns .. "/forged", tag = "f1", mediaType = "application/vnd.oci.image.manifest.v1+json" } } } }
    local before = metric('isync_webhook_requests_total{result="unauthorized"}')
    assert.equal(401, (webhook({}, payload)))
    assert.equal(401, (webhook({ "Authorization: Bearer not-" .. SECRET }, payload)))
    assert.equal(401, (webhook({ "Authorization: Basic " .. SECRET }, payload)))
    assert.equal(before + 3, metric('isync_webhook_requests_total{result="unauthorized"}'))
    H.sh("sleep 1")
    assert.is_falsy(has(ns .. "/forged", "f1"))
    -- the same payload with the secret is synced: the refusal was the secret's doing
    assert.equal(202, (webhook({ "Authorization: Bearer " .. SECRET }, payload)))
    wait_for("the tag after the authorized webhook", 3, function() return has(ns .. "/forged", "f1") end)
  end)

  it("syncs the tags of a Harbor PUSH_ARTIFACT webhook, and ignores unmapped ones", function()
    H.mkimage("plain", "single", ns .. "/harbor", "h1", "--layers", "1", "--layer-size", "1K")
    H.mkimage("plain", "single", ns .. "/unmapped", "u1", "--layers", "1", "--layer-size", "1K")
    local ignored = metric('isync_webhook_events_total{result="ignored"}') or 0
    local function harbor(repo, tag)   -- Harbor sends its "Auth Header" as is
      return webhook({ "Authorization: " .. SECRET }, {
        type = "PUSH_ARTIFACT", occur_at = os.time(), operator = "admin",
        event_data = {
          resources = { { digest = "sha256:" .. ("0"):rep(64), tag = tag, resource_url = plain .. "/" .. ns .. "/" .. repo .. ":" .. tag } },
          repository = { name = repo, namespace = ns, repo_full_name = ns .. "/" .. repo, repo_type = "private" },
        },
      })
    end
    assert.equal(202, (harbor("harbor", "h1")))
    assert.equal(202, (harbor("unmapped", "u1")))
    wait_for("the Harbor-pushed tag at the destination", 3, function() return has(ns .. "/harbor", "h1") end)
    assert.is_true(H.verify("plain", ns .. "/harbor", "h1", "plain2", ns .. "/harbor", "h1"))
    wait_for("the unmapped push counted as ignored", 3, function()
      return (metric('isync_webhook_events_total{result="ignored"}') or 0) > ignored
    end)
    assert.is_falsy(dst:head(ns .. "/unmapped", "u1"))
  end)

  it("is scraped by Prometheus: the values read back through its query API are isync's", function()
    local function query(expr)
      local code, body = http(("--get --data-urlencode %s http://127.0.0.1:%d/api/v1/query"):format(q("query=" .. expr), prom_port))
      if code ~= 200 then return nil end
      local doc = json.decode(body)
      local r = doc and doc.data and doc.data.result
      return r and r[1] and tonumber(r[1].value[2])
    end
    wait_for("Prometheus to be ready", 15, function() return http(("http://127.0.0.1:%d/-/ready"):format(prom_port)) == 200 end)
    -- wait until a scrape after the tests above, then compare with isync's own numbers
    local copied = metric("isync_images_copied_total")
    assert.is_true(copied >= 6)   -- 3 in the pass, pushed, f1, h1
    wait_for("Prometheus to see isync_images_copied_total = " .. copied, 15, function()
      return query("isync_images_copied_total") == copied
    end)
    assert.equal(metric('isync_webhook_requests_total{result="unauthorized"}'),
      query('isync_webhook_requests_total{result="unauthorized"}'))
    assert.is_true(query('isync_webhook_events_total{result="synced"}') >= 3)
    assert.equal(metric("isync_bytes_copied_total"), query("isync_bytes_copied_total"))
    assert.is_true(query("isync_last_successful_pass_timestamp_seconds") > os.time() - 600)
    assert.equal(0, query("isync_webhook_queue_depth"))
    assert.is_true(query(('sum(isync_request_duration_seconds_count{registry="%s"})'):format(src_addr)) > 0)
    assert.is_true(query(('sum(isync_request_duration_seconds_bucket{registry="%s",op="manifest_put",le="+Inf"})'):format(dst_addr)) >= 3)
    assert.equal(1, query('up{job="isync"}'))
  end)
end)
