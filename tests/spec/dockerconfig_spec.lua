local dc = require "isync.dockerconfig"

local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

describe("isync.dockerconfig", function()
  it("decodes base64", function()
    assert.equal("alice:s3cr:et", dc.b64decode("YWxpY2U6czNjcjpldA=="))
    assert.equal("", dc.b64decode(""))
  end)

  it("finds auths by host, URL form and Docker Hub aliases", function()
    local doc = { auths = {
      ["127.0.0.1:5000"] = { auth = "YWxpY2U6czNjcjpldA==" },
      ["https://index.docker.io/v1/"] = { auth = "Ym9iOnB3" },
      ["https://quay.io"] = { username = "u", password = "p" },
      ["ghcr.io"] = { identitytoken = "refresh-me" },
    } }
    assert.same({ username = "alice", password = "s3cr:et" }, dc.lookup(doc, "127.0.0.1:5000"))
    assert.same({ username = "bob", password = "pw" }, dc.lookup(doc, "docker.io"))
    assert.same({ username = "u", password = "p" }, dc.lookup(doc, "quay.io"))
    assert.same({ username = "<token>", password = "refresh-me" }, dc.lookup(doc, "ghcr.io"))
    assert.is_nil(dc.lookup(doc, "other.example"))
  end)

  it("asks a credential helper, passing the server on stdin", function()
    local dir = tmpdir()
    local helper = dir .. "/docker-credential-fake"
    local f = assert(io.open(helper, "w"))
    f:write('#!/bin/sh\nread server\n[ "$1" = get ] || exit 1\n',
            'printf \'{"ServerURL":"%s","Username":"helper-user","Secret":"from-%s"}\' "$server" "$server"\n')
    f:close()
    assert(os.execute("chmod +x " .. helper))
    local old = os.getenv("PATH")
    local doc = { credHelpers = { ["registry.example:5000"] = "fake" } }
    -- run with the helper's directory on PATH through a subshell-visible variable
    local creds = (function()
      local saved = package.loaded["isync.dockerconfig"]
      local p = io.popen("PATH=" .. dir .. ":" .. old .. " lua5.4 -e 'package.path=\"lua/?.lua;\"..package.path;package.cpath=\"build/lib/?.so;\"..package.cpath;" ..
        "local dc=require\"isync.dockerconfig\"; local c=dc.lookup({credHelpers={[\"registry.example:5000\"]=\"fake\"}}, \"registry.example:5000\");" ..
        "io.write(c.username, \" \", c.password)'")
      local out = p:read("a")
      p:close()
      package.loaded["isync.dockerconfig"] = saved
      return out
    end)()
    assert.equal("helper-user from-registry.example:5000", creds)
    local none, err = dc.from_helper("missing-helper-xyz", "x")
    assert.is_nil(none)
    assert.matches("no credentials", err)
    assert.is_nil((dc.from_helper("bad name;rm", "x")))
    assert.truthy(doc)
    os.execute("rm -rf " .. dir)
  end)

  it("reads the config file named by DOCKER_CONFIG-style paths", function()
    local dir = tmpdir()
    local f = assert(io.open(dir .. "/config.json", "w"))
    f:write('{"auths":{"r.example":{"auth":"eDp5"}}}')
    f:close()
    assert.same({ username = "x", password = "y", source = dir .. "/config.json" }, dc.credentials("r.example", dir .. "/config.json"))
    assert.is_nil(dc.credentials("r.example", dir .. "/missing.json"))
    f = assert(io.open(dir .. "/bad.json", "w"))
    f:write("{not json")
    f:close()
    local c, err = dc.credentials("r.example", dir .. "/bad.json")
    assert.is_nil(c)
    assert.matches("bad.json", err)
    os.execute("rm -rf " .. dir)
  end)

  it("searches the containers auth files before docker's, in containers-auth.json(5) order", function()
    local env = { REGISTRY_AUTH_FILE = "/a/auth.json", XDG_RUNTIME_DIR = "/run/user/7", HOME = "/home/u" }
    local real_getenv = os.getenv
    os.getenv = function(k) return env[k] end   -- luacheck: ignore
    local files = dc.files()
    os.getenv = real_getenv   -- luacheck: ignore
    assert.same({ "/a/auth.json", "/run/user/7/containers/auth.json", "/home/u/.config/containers/auth.json",
                  "/home/u/.docker/config.json" }, files)
  end)
end)
