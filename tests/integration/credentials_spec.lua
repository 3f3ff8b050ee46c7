-- Credentials as podman, skopeo and docker find them, and errors that say whose fault a 401 is.
local json = require "isync.json"
local H = require "helpers"

local function b64(s)
  local _, out = H.sh("printf '%s' " .. H.q(s) .. " | base64 -w0")
  return (out:gsub("%s+$", ""))
end

local function auth_file(path, host, user, pass)
  H.sh("mkdir -p " .. H.q(path:match("^(.*)/")))
  H.write(path, json.encode({ auths = { [host] = { auth = b64(user .. ":" .. pass) } } }))
end

-- isync with only the credential files env names: a fresh HOME, no XDG dirs
local function run(args, env)
  local prefix = "env -u REGISTRY_AUTH_FILE -u XDG_RUNTIME_DIR -u XDG_CONFIG_HOME -u DOCKER_CONFIG SSL_CERT_FILE="
    .. H.q(H.env("ISYNC_T_CA")) .. " "
  for k, v in pairs(env) do prefix = prefix .. k .. "=" .. H.q(v) .. " " end
  local _, out = H.sh(prefix .. H.q(H.bin) .. " " .. args .. " 2>&1; echo rc=$?")
  return tonumber(out:match("rc=(%d+)%s*$")), out
end

describe("credentials", function()
  local repo, user, pass
  setup(function()
    repo = H.unique("creds/app-")
    H.mkimage("basic", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    user, pass = H.env("ISYNC_T_USER"), H.env("ISYNC_T_PASS")
  end)

  for _, kind in ipairs { "basic", "token" } do
    it("a wrong password says the credentials were rejected, for whom (" .. kind .. ")", function()
      local home = H.tmpdir()
      local host = H.env("ISYNC_T_" .. kind:upper())
      auth_file(home .. "/.docker/config.json", host, user, "not-the-password")
      local rc, out = run("ls " .. host .. "/" .. repo, { HOME = home })
      H.rm(home)
      assert.equal(1, rc, out)
      assert.matches("credentials rejected by " .. host:gsub("%p", "%%%0") .. " for user " .. user, out)
      assert.is_nil(out:find("not-the-password", 1, true))
    end)
  end

  it("no credentials at all says so, and where it looked", function()
    local home = H.tmpdir()
    local host = H.env("ISYNC_T_BASIC")
    local rc, out = run("ls " .. host .. "/" .. repo, { HOME = home })
    assert.equal(1, rc, out)
    assert.matches(host:gsub("%p", "%%%0") .. " needs credentials and none were found", out)
    assert.truthy(out:find("looked in: " .. home .. "/.config/containers/auth.json, " .. home .. "/.docker/config.json", 1, true), out)
    H.rm(home)
  end)

  it("reads REGISTRY_AUTH_FILE before docker's config", function()
    local home = H.tmpdir()
    local host = H.env("ISYNC_T_BASIC")
    auth_file(home .. "/.docker/config.json", host, user, "stale-password")
    auth_file(home .. "/podman-auth.json", host, user, pass)
    local rc, out = run("ls " .. host .. "/" .. repo, { HOME = home, REGISTRY_AUTH_FILE = home .. "/podman-auth.json" })
    H.rm(home)
    assert.equal(0, rc, out)
    assert.matches("v1", out)
  end)

  it("reads $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json", function()
    local home = H.tmpdir()
    local host = H.env("ISYNC_T_BASIC")
    auth_file(home .. "/run/containers/auth.json", host, user, pass)
    auth_file(home .. "/.config/containers/auth.json", host, user, "stale-password")
    local rc, out = run("ls " .. host .. "/" .. repo, { HOME = home, XDG_RUNTIME_DIR = home .. "/run" })
    assert.equal(0, rc, out)
    H.rm(home .. "/run")
    rc, out = run("ls " .. host .. "/" .. repo, { HOME = home })
    assert.equal(1, rc, out)   -- now the stale ~/.config one is the first that names the registry
    assert.matches("credentials rejected", out)
    H.rm(home)
  end)
end)
