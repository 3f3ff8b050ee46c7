-- isync serve's pieces without a network: the webhook payloads it reads, the metrics text
-- it serves, which rule a pushed tag matches, and the HTTP server's secret check.
local webhook = require "isync.webhook"
local metrics = require "isync.metrics"
local serve = require "isync.serve"
local compat = require "isync.compat.imagesyncer"
local json = require "isync.json"
local core = require "isync.core"

describe("isync.webhook", function()
  it("reads distribution's envelope: tagged manifest pushes only", function()
    local pushes, kind = webhook.parse(json.encode({ events = {
      { action = "push", target = { repository = "app/web", tag = "v1", digest = "sha256:" .. ("a"):rep(64) },
        request = { host = "reg.example.com:5000" } },
      { action = "push", target = { repository = "app/web", digest = "sha256:" .. ("b"):rep(64) } },   -- by digest
      { action = "pull", target = { repository = "app/web", tag = "v1" } },
      { action = "push", target = { repository = "app/api", tag = "v2", url = "http://other:5000/v2/app/api/manifests/v2" } },
      { action = "push", target = { repository = "Bad Name", tag = "v1" } },
    } }))
    assert.equal("distribution", kind)
    assert.same({ { host = "reg.example.com:5000", repo = "app/web", tag = "v1", digest = "sha256:" .. ("a"):rep(64) },
                  { host = "other:5000", repo = "app/api", tag = "v2" } }, pushes)
  end)

  it("reads Harbor's PUSH_ARTIFACT webhook and ignores its other events", function()
    local pushes, kind = webhook.parse(json.encode({ type = "PUSH_ARTIFACT", event_data = {
      resources = { { tag = "1.0", resource_url = "harbor.corp/library/nginx:1.0" }, { tag = "latest", resource_url = "harbor.corp/library/nginx:latest" } },
      repository = { repo_full_name = "library/nginx" } } }))
    assert.equal("harbor", kind)
    assert.same({ { host = "harbor.corp", repo = "library/nginx", tag = "1.0" }, { host = "harbor.corp", repo = "library/nginx", tag = "latest" } }, pushes)
    assert.same({}, (webhook.parse(json.encode({ type = "DELETE_ARTIFACT", event_data = { resources = {} } }))))
    assert.is_nil((webhook.parse("{not json")))
    assert.is_nil((webhook.parse('{"hello": 1}')))
  end)
end)

describe("isync.metrics", function()
  it("renders the text exposition format: HELP, TYPE, escaped labels, cumulative buckets", function()
    local m = metrics.new()
    m:counter("x_total", "Things.")
    m:histogram("lat_seconds", "Latency.", { 0.1, 1 })
    m:inc("x_total", { code = 'a"b\\c' }, 2)
    m:observe("lat_seconds", { registry = "r:5000" }, 0.5)
    m:observe("lat_seconds", { registry = "r:5000" }, 0.05)
    assert.equal(table.concat({
      "# HELP x_total Things.", "# TYPE x_total counter", 'x_total{code="a\\"b\\\\c"} 2',
      "# HELP lat_seconds Latency.", "# TYPE lat_seconds histogram",
      'lat_seconds_bucket{registry="r:5000",le="0.1"} 1', 'lat_seconds_bucket{registry="r:5000",le="1"} 2',
      'lat_seconds_bucket{registry="r:5000",le="+Inf"} 2', 'lat_seconds_sum{registry="r:5000"} 0.55',
      'lat_seconds_count{registry="r:5000"} 2', "" }, "\n"), m:render())
  end)
end)

describe("isync serve", function()
  it("reads listen addresses", function()
    assert.same({ "127.0.0.1", 8080 }, { serve.parse_listen("127.0.0.1:8080") })
    assert.same({ "0.0.0.0", 9000 }, { serve.parse_listen(":9000") })
    assert.same({ "::1", 80 }, { serve.parse_listen("[::1]:80") })
    assert.same({ "127.0.0.1", 81 }, { serve.parse_listen("81") })
    assert.is_nil((serve.parse_listen("host")))
  end)

  it("routes a pushed tag by the image-syncer rules that map it", function()
    local rules = compat.rules({
      ["src.io/app/web"] = "dst.io/m/web",                      -- every tag
      ["src.io/app/api:v1,v2"] = "dst.io/m/api:one,two",         -- listed, renamed
      ["src.io/app/api:/^v\\d+$/"] = "dst.io/m/api-all",        -- regex
      ["src.io/app/db@sha256:" .. ("0"):rep(64)] = "dst.io/m/db", -- by digest: not about tags
    }, "test")
    local open = function(registry)
      return { ref = function(_, repo, ref) return { registry = { name = registry }, repo = repo, ref = ref } end }
    end
    local function names(list)
      local out = {}
      for _, p in ipairs(list) do out[#out + 1] = p.src.registry.name .. "/" .. p.src.repo .. ":" .. p.src.ref .. " -> " ..
        p.dst.registry.name .. "/" .. p.dst.repo .. ":" .. p.dst.ref end
      table.sort(out)
      return out
    end
    assert.same({ "src.io/app/web:x -> dst.io/m/web:x" }, names(compat.route(rules, open, "src.io", "app/web", "x")))
    assert.same({ "src.io/app/api:v2 -> dst.io/m/api-all:v2", "src.io/app/api:v2 -> dst.io/m/api:two" },
      names(compat.route(rules, open, "src.io", "app/api", "v2")))
    assert.same({}, names(compat.route(rules, open, "src.io", "app/api", "beta")))
    assert.same({}, names(compat.route(rules, open, "other.io", "app/web", "x")))
    assert.same({}, names(compat.route(rules, open, "src.io", "app/db", "x")))
  end)

  it("accepts the secret as 'Bearer <secret>' or as is, nothing else", function()
    local h = assert(core.httpd { port = 0, secret = "s3cret" })
    local port = h:port()
    local function post(auth)
      local p = io.popen(("curl -s --noproxy '*' -o /dev/null -w '%%{http_code}' %s -X POST -d '{}' http://127.0.0.1:%d/webhook"):format(
        auth and ("-H 'Authorization: " .. auth .. "'") or "", port))
      local code = p:read("a")
      p:close()
      return tonumber(code)
    end
    assert.equal(401, post(nil))
    assert.equal(401, post("Bearer s3cre"))
    assert.equal(401, post("Bearer s3cret "))
    assert.equal(401, post("Basic s3cret"))
    assert.equal(202, post("Bearer s3cret"))
    assert.equal(202, post("s3cret"))
    local evs = h:take()
    assert.equal(2, #evs)
    assert.equal("{}", evs[1].body)
    assert.same({}, h:take())
    h:stop()
    assert.has_error(function() h:port() end)
  end)
end)
