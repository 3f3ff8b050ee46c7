-- Trust as users have it set up: certs.d directories, SSL_CERT_FILE / SSL_CERT_DIR, a CA per
-- registry in the auth file, and loopback registries that speak plain HTTP with no flag.
local isync = require "isync"
local json = require "isync.json"
local H = require "helpers"

-- isync with a clean trust environment: no certs.d of this machine, no SSL_CERT_* of the shell
local function isync_env(args, env)
  local prefix = "env -u SSL_CERT_FILE -u SSL_CERT_DIR -u ISYNC_CERTS_D HOME=" .. H.q(env.HOME or "/nonexistent") .. " "
  for k, v in pairs(env) do if k ~= "HOME" then prefix = prefix .. k .. "=" .. H.q(v) .. " " end end
  local ok, out = H.sh(prefix .. H.q(H.bin) .. " " .. args .. " 2>&1; echo rc=$?")
  return tonumber(out:match("rc=(%d+)%s*$")), out
end

local function copy_file(from, to)
  H.sh("mkdir -p " .. H.q(to:match("^(.*)/")) .. " && cp " .. H.q(from) .. " " .. H.q(to))
end

describe("trust", function()
  local repo, tls, repo_plain
  setup(function()
    repo = H.unique("trust/app-")
    H.mkimage("tls", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    repo_plain = H.unique("trust/plain-")
    H.mkimage("plain", "single", repo_plain, "v1", "--layers", "1", "--layer-size", "1K")
    tls = H.env("ISYNC_T_TLS")
  end)

  it("refuses an unknown CA, naming the certificate problem", function()
    local rc, out = isync_env("ls " .. tls .. "/" .. repo, {})
    assert.equal(1, rc, out)
    assert.matches("certificate", out)
    assert.truthy(out:find("its CA is not trusted: put it in ~/.config/containers/certs.d/" .. tls .. "/ca.crt", 1, true), out)
  end)

  it("trusts a CA from <certs.d>/HOST:PORT/*.crt (ISYNC_CERTS_D)", function()
    local dir = H.tmpdir()
    copy_file(H.env("ISYNC_T_CA"), dir .. "/certs.d/" .. tls .. "/company-ca.crt")
    local rc, out = isync_env("ls " .. tls .. "/" .. repo, { ISYNC_CERTS_D = dir .. "/certs.d" })
    H.rm(dir)
    assert.equal(0, rc, out)
    assert.matches("v1", out)
  end)

  it("trusts a CA from ~/.config/containers/certs.d, on top of the system store", function()
    local home = H.tmpdir()
    copy_file(H.env("ISYNC_T_CA"), home .. "/.config/containers/certs.d/" .. tls .. "/ca.crt")
    local rc, out = isync_env("ls " .. tls .. "/" .. repo, { HOME = home })
    H.rm(home)
    assert.equal(0, rc, out)
    assert.matches("v1", out)
  end)

  it("honours SSL_CERT_FILE and SSL_CERT_DIR as Go tools do", function()
    local rc, out = isync_env("ls " .. tls .. "/" .. repo, { SSL_CERT_FILE = H.env("ISYNC_T_CA") })
    assert.equal(0, rc, out)
    local dir = H.tmpdir()
    copy_file(H.env("ISYNC_T_CA"), dir .. "/company.pem")
    rc, out = isync_env("ls " .. tls .. "/" .. repo, { SSL_CERT_DIR = dir })
    H.rm(dir)
    assert.equal(0, rc, out)
    assert.matches("v1", out)
  end)

  it("presents a client certificate from <certs.d>/HOST:PORT/*.cert + *.key (mTLS)", function()
    local mtls = H.env("ISYNC_T_MTLS")
    local mrepo = H.unique("trust/mtls-")
    local dir = H.tmpdir()
    local d = dir .. "/certs.d/" .. mtls
    copy_file(H.env("ISYNC_T_CA"), d .. "/ca.crt")
    -- without the client pair the registry refuses the handshake
    local rc, out = isync_env("ls " .. mtls .. "/" .. mrepo, { ISYNC_CERTS_D = dir .. "/certs.d" })
    assert.equal(1, rc, out)
    assert.matches("bad certificate", out)
    copy_file(H.env("ISYNC_T_CLIENT_CERT"), d .. "/client.cert")
    copy_file(H.env("ISYNC_T_CLIENT_KEY"), d .. "/client.key")
    rc, out = isync_env("cp " .. H.env("ISYNC_T_PLAIN") .. "/" .. repo_plain .. ":v1 " .. mtls .. "/" .. mrepo .. ":v1",
      { ISYNC_CERTS_D = dir .. "/certs.d" })
    assert.equal(0, rc, out)
    rc, out = isync_env("ls " .. mtls .. "/" .. mrepo, { ISYNC_CERTS_D = dir .. "/certs.d" })
    H.rm(dir)
    assert.equal(0, rc, out)
    assert.matches("v1", out)
  end)

  it("says which CA file is unusable", function()
    local dir = H.tmpdir()
    H.sh("mkdir -p " .. H.q(dir .. "/certs.d/" .. tls))
    H.write(dir .. "/certs.d/" .. tls .. "/broken.crt", "not a certificate\n")
    local rc, out = isync_env("ls " .. tls .. "/" .. repo, { ISYNC_CERTS_D = dir .. "/certs.d" })
    H.rm(dir)
    assert.equal(1, rc, out)
    assert.matches("broken%.crt holds no PEM certificate", out)
  end)

  it("takes a CA per registry from the image-syncer auth file (ca:)", function()
    local dir = H.tmpdir()
    local dst = H.env("ISYNC_T_PLAIN")
    H.write(dir .. "/auth.json", json.encode({ [tls] = { ca = H.env("ISYNC_T_CA") } }))
    H.write(dir .. "/images.json", json.encode({ [tls .. "/" .. repo .. ":v1"] = dst .. "/" .. repo .. ":v1" }))
    local rc, out = isync_env("--auth " .. H.q(dir .. "/auth.json") .. " --images " .. H.q(dir .. "/images.json")
      .. " --no-ledger", {})
    H.rm(dir)
    assert.equal(0, rc, out)
    assert.truthy(H.registry("plain"):head(repo, "v1"))
  end)

  it("refuses an unknown key in the auth file, naming it", function()
    local dir = H.tmpdir()
    H.write(dir .. "/auth.yaml", tls .. ":\n  usrname: alice\n  password: x\n")
    H.write(dir .. "/images.yaml", tls .. "/" .. repo .. ": " .. H.env("ISYNC_T_PLAIN") .. "/x\n")
    local rc, out = isync_env("--auth " .. H.q(dir .. "/auth.yaml") .. " --images " .. H.q(dir .. "/images.yaml"), {})
    H.rm(dir)
    assert.equal(1, rc, out)
    assert.matches('unknown key "usrname"', out)
    assert.matches("auth%.yaml", out)
  end)
end)

describe("loopback registries", function()
  it("speak plain HTTP with no flag when HTTPS does not answer (127.0.0.1 and localhost)", function()
    local repo = H.unique("trust/local-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    local port = H.env("ISYNC_T_PLAIN"):match(":(%d+)$")
    for _, host in ipairs { "127.0.0.1", "localhost" } do
      local rc, out = isync_env("ls " .. host .. ":" .. port .. "/" .. repo, {})
      assert.equal(0, rc, out)
      assert.matches("v1", out)
    end
  end)

  it("otherwise say the registry speaks plain HTTP and name --plain-http", function()
    local reg = isync.registry(H.env("ISYNC_T_PLAIN"), { http_fallback = false, docker_config = false, retry = false })
    local ok, err, code = reg:ping()
    assert.is_nil(ok)
    assert.equal("TLS", code)
    assert.matches("this registry speaks plain HTTP: use %-%-plain%-http", err)
  end)
end)
