-- Docker Hub's names: one rule (util/ref.c) seen the same from every Lua entry point.
-- docker.io is the name; index.docker.io, registry-1.docker.io and registry.hub.docker.com
-- fold into it; one-word names get library/; the API answers on registry-1.docker.io.
-- No network: opening a registry that is not a loopback host sends nothing.
local isync = require "isync"
local core = require "isync.core"
local dc = require "isync.dockerconfig"
local is = require "isync.compat.imagesyncer"

local ALIASES = { "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com" }

describe("Docker Hub's names", function()
  it("are the ones core knows", function()
    assert.same(ALIASES, core.dockerhub_names)
  end)

  for _, alias in ipairs(ALIASES) do
    describe(alias, function()
      it("is docker.io in a reference", function()
        assert.same({ registry = "docker.io", repo = "library/nginx", tag = "1" }, isync.parse_ref(alias .. "/nginx:1"))
        assert.same({ registry = "docker.io", repo = "user/app" }, isync.parse_ref(alias .. "/user/app"))
        assert.same({ "docker.io", "library/nginx" }, { core.canonical_name(alias, "nginx") })
      end)

      it("opens docker.io, on registry-1.docker.io, with library/ for one-word names", function()
        local reg = isync.registry(alias, { docker_config = false, certs_d = false })
        assert.equal("docker.io", reg.name)
        assert.equal("docker.io", reg.core:info().name)
        assert.equal("https://registry-1.docker.io", reg.core:info().base)
        assert.equal("library/nginx", reg:repo("nginx"))
        assert.equal("user/app", reg:repo("user/app"))
      end)

      it("finds Docker Hub's credentials in a docker config under any of its names", function()
        for _, key in ipairs(ALIASES) do
          local doc = { auths = { [key] = { username = "u-" .. key, password = "p" } } }
          assert.same({ username = "u-" .. key, password = "p" }, dc.lookup(doc, alias), key)
        end
        assert.is_nil(dc.lookup({ auths = { ["hub.docker.com"] = { username = "u", password = "p" } } }, alias))
      end)

      it("is docker.io as an images-file name", function()
        local r = is.parse_image(alias .. "/nginx:1.25", "source")
        assert.equal("docker.io", r.registry)
        assert.equal("library/nginx", r.repo)
        assert.same({ "1.25" }, r.tags)
        r = is.parse_image(alias .. "/user/app", "destination")
        assert.equal("docker.io", r.registry)
        assert.equal("user/app", r.repo)
      end)

      it("is docker.io as an auth-file key, matching any name the image was written with", function()
        local auth = { [alias] = { username = "hub" }, [alias .. "/team"] = { username = "team" } }
        for _, written in ipairs(ALIASES) do
          local r = is.parse_image(written .. "/nginx", "source")
          assert.equal("hub", (is.auth_for(auth, r.registry, r.repo)).username, written)
          r = is.parse_image(written .. "/team/app", "source")
          assert.equal("team", (is.auth_for(auth, r.registry, r.repo)).username, written)
        end
        assert.equal("hub", (is.auth_for({ ["https://" .. alias .. "/"] = { username = "hub" } }, "docker.io", "library/x")).username)
      end)
    end)
  end

  it("leaves every other name alone", function()
    assert.same({ registry = "ghcr.io", repo = "x" }, isync.parse_ref("ghcr.io/x"))
    assert.same({ registry = "hub.docker.com", repo = "x" }, isync.parse_ref("hub.docker.com/x"))
    local reg = isync.registry("quay.io", { docker_config = false, certs_d = false })
    assert.equal("quay.io", reg.name)
    assert.equal("https://quay.io", reg.core:info().base)
    assert.equal("x", reg:repo("x"))
    assert.is_nil(is.auth_for({ ["docker.io"] = { username = "hub" } }, "quay.io", "x"))
  end)
end)
