-- The API's contract for misuse (raises) versus world failures (nil, message, code),
-- without a registry: an address nothing listens on gives a CONNECT failure.
local isync = require "isync"

describe("isync API", function()
  it("parses references with Docker Hub defaults", function()
    assert.same({ registry = "docker.io", repo = "library/nginx", tag = "1.25" }, isync.parse_ref("nginx:1.25"))
    local r = isync.parse_ref("127.0.0.1:5000/a/b@sha256:" .. string.rep("a", 64))
    assert.equal("127.0.0.1:5000", r.registry)
    assert.equal("a/b", r.repo)
    local bad, err = isync.parse_ref("Bad/Name")
    assert.is_nil(bad)
    assert.matches("invalid", err)
  end)

  it("raises on misuse", function()
    assert.has_error(function() isync.registry("bad host/with/path") end)
    local r = isync.registry("127.0.0.1:1", { plain_http = true, docker_config = false })
    assert.has_error(function() r:tags("UPPER/case") end)
    assert.has_error(function() r:manifest("ok/repo", "bad tag!") end)
    assert.has_error(function() r:blob_exists("ok/repo", "sha256:short") end)
    assert.has_error(function() isync.registry("x.io", { timeout = "soon" }) end)
    assert.has_error(function() isync.registry("user@host.io") end)
    assert.has_error(function() r:put_manifest("ok/repo", "t", "{}", "a/b\r\nX-Injected: yes") end)
    do
      local closed <close> = isync.registry("127.0.0.1:1", { plain_http = true, docker_config = false }).core
    end
    local c = isync.registry("127.0.0.1:1", { plain_http = true, docker_config = false })
    getmetatable(c.core).__close(c.core)
    assert.has_error(function() c:tags("a/b") end, nil)
    local ok, err = pcall(c.tags, c, "a/b")
    assert.is_false(ok)
    assert.matches("registry is closed", err)
  end)

  it("returns nil, message, code when the world fails", function()
    local r = isync.registry("127.0.0.1:1", { plain_http = true, connect_timeout = 2, docker_config = false })
    local v, msg, code = r:tags("some/repo")
    assert.is_nil(v)
    assert.equal("CONNECT", code)
    assert.matches("127.0.0.1:1", msg)
    assert.is_nil(msg:find("\n"))
  end)

  it("exposes the stable codes", function()
    for _, c in ipairs { "MANIFEST_UNKNOWN", "UNAUTHORIZED", "TIMEOUT", "TLS", "CONNECT", "DIGEST_MISMATCH" } do
      assert.equal(c, isync.codes[c])
    end
  end)

  it("computes digests", function()
    assert.equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", isync.digest("abc"))
  end)
end)

describe("packaging", function()
  it("the rockspec lists every Lua module", function()
    local f = assert(io.open("rockspec/isync-scm-1.rockspec"))
    local spec = f:read("a")
    f:close()
    local p = io.popen("find lua/isync -name '*.lua' | sort")
    for path in p:lines() do
      local name = path:gsub("^lua/", ""):gsub("%.lua$", ""):gsub("/init$", ""):gsub("/", ".")
      assert.truthy(spec:find('["' .. name .. '"] = "' .. path .. '"', 1, true), path .. " is not in the rockspec")
    end
    p:close()
  end)

  it("the rockspec builds isync.core from every C file of the core and its glue", function()
    local f = assert(io.open("rockspec/isync-scm-1.rockspec"))
    local spec = f:read("a")
    f:close()
    local listed = {}
    for path in spec:gmatch('"(src/[^"]+%.c)"') do listed[path] = true end
    local p = io.popen("find src -mindepth 2 -name '*.c' | sort")
    local n = 0
    for path in p:lines() do
      n = n + 1
      assert.truthy(listed[path], path .. " is not in the rockspec's sources")
      listed[path] = nil
    end
    p:close()
    assert.is_true(n > 20)
    assert.is_nil(next(listed), "the rockspec lists a file that is gone: " .. tostring(next(listed)))
  end)
end)
