-- The README's snippets are checked, so a reader who copies one gets something that works:
-- YAML and JSON blocks parse (PyYAML as an independent parser, and isync's own loader for
-- the images/auth files), Lua blocks compile, and every flag on an `isync ...` line in a
-- shell block is one the command's --help lists.
local H = require "helpers"
local compat = require "isync.compat.imagesyncer"

-- Fenced code blocks: { lang = "yaml" | "sh" | "" ..., text = ..., line = N }.
local function blocks()
  local readme = assert(H.read(H.root .. "/README.md"))
  local out, cur, n = {}, nil, 0
  for line in (readme .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local fence = line:match("^```(%w*)%s*$")
    if fence and not cur then
      cur = { lang = fence, text = {}, line = n }
    elseif fence and cur then
      cur.text = table.concat(cur.text, "\n") .. "\n"
      out[#out + 1] = cur
      cur = nil
    elseif cur then
      cur.text[#cur.text + 1] = line
    end
  end
  assert(cur == nil, "README.md: a code block is not closed")
  return out
end

local function of(lang)
  local r = {}
  for _, b in ipairs(blocks()) do if b.lang == lang then r[#r + 1] = b end end
  return r
end

describe("README snippets", function()
  it("YAML and JSON blocks parse; the images and auth files load through isync's loader", function()
    local dir = H.tmpdir()
    local n, configs = 0, 0
    for _, lang in ipairs { "yaml", "json" } do
      for _, b in ipairs(of(lang)) do
        local where = ("README.md:%d (%s)"):format(b.line, lang)
        -- a placeholder digest becomes a real-looking one and the example's variable is set
        -- as its reader would have it; everything else is as written
        local text = b.text:gsub("<64 hex>", ("0"):rep(64)):gsub("%${OTHER_REGISTRY}", "other.example.com")
        local path = dir .. "/snippet." .. lang
        H.write(path, text)
        local ok, out = H.sh(("python3 -c %s %s"):format(H.q(
          "import sys, yaml, json; f = open(sys.argv[1]); (json.load if sys.argv[1].endswith('.json') else yaml.safe_load)(f)"),
          H.q(path)))
        assert(ok, where .. ": " .. out)
        local doc = compat.load_file(path, where)
        local kind = text:match("^#%s*(%w+)%.ya?ml") or text:match("^#%s*(%w+)%.json")
        if kind == "images" then
          assert.is_true(#compat.rules(doc, where) > 0, where)
          configs = configs + 1
        elseif kind == "auth" then
          compat.check_auth(doc, where)
          configs = configs + 1
        end
        n = n + 1
      end
    end
    assert.is_true(n >= 2)
    assert.is_true(configs >= 2)   -- the images.yaml and auth.yaml examples
    H.rm(dir)
  end)

  it("Lua blocks compile", function()
    local n = 0
    for _, b in ipairs(of("lua")) do
      local chunk, err = load(b.text, "=README.md:" .. b.line)
      assert(chunk, err)
      n = n + 1
    end
    assert.is_true(n >= 5)
  end)

  it("the 'ours.lua' policy runs against local registries (quay.io and registry.example.com replaced)", function()
    local P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2")
    local snippet
    for _, b in ipairs(of("lua")) do if b.text:match("^%-%- ours%.lua") then snippet = b.text end end
    assert(snippet, "README.md: the ours.lua example is gone")
    local dir = H.tmpdir()
    local src = H.registry("plain")
    local repos = { "coreos/etcd", "prometheus/prometheus", "jetstack/cert-manager-controller" }
    for _, repo in ipairs(repos) do
      H.mkimage("plain", "single", repo, "v1.0.0", "--layers", "1", "--layer-size", "1K")
      local m = assert(src:manifest(repo, "v1.0.0"))
      for _, t in ipairs { "v1.0.1", "v1.1.0", "v1.2.0", "v1.3.0", "latest" } do
        assert(src:put_manifest(repo, t, m.bytes, m.media_type))
      end
    end
    local text = snippet:gsub('"quay%.io"', ("%q"):format(P)):gsub('"registry%.example%.com"', ("%q"):format(P2))
      :gsub('"%.isync/ledger"', ("%q"):format(dir .. "/ledger"))
    local ours = H.unique("ours") .. "/"   -- a fresh destination namespace per run
    text = text:gsub('"ours/"', ("%q"):format(ours))
    H.write(dir .. "/ours.lua", text)
    local ok, out = H.isync(H.q(dir .. "/ours.lua"))
    assert(ok, out)
    local dst = H.registry("plain2")
    for _, repo in ipairs(repos) do
      local tags = assert(dst:tags(ours .. repo:match("[^/]+$")))
      table.sort(tags)
      assert.same({ "v1.1.0", "v1.2.0", "v1.3.0" }, tags)   -- the 3 newest minors, renamed
    end
    H.rm(dir)
  end)

  it("every flag on an isync command line in a shell block is in that command's help", function()
    local help = {}
    local function help_of(words)
      local key, args
      if words[2] == "cp" or words[2] == "ls" or words[2] == "inspect" or words[2] == "serve" or words[2] == "worker"
          or words[2] == "status" then
        key, args = words[2], "help " .. words[2]
      elseif words[2] and words[2]:match("^scripts/.*%.lua$") then
        key, args = words[2], H.q(H.root .. "/" .. words[2]) .. " --help"
      else
        key, args = "top", "--help"
      end
      if not help[key] then
        local ok, out = H.isync(args)
        assert(ok, args .. ": " .. out)
        help[key] = out
      end
      return help[key]
    end
    local checked = 0
    for _, lang in ipairs { "sh", "" } do
      for _, b in ipairs(of(lang)) do
        local text = b.text:gsub("\\\n%s*", " ")   -- continuation lines
        local ln = b.line
        for line in text:gmatch("[^\n]+") do
          ln = ln + 1
          local cmd = line:gsub("%s+#.*$", "")
          if cmd:match("^isync ") then
            local words = {}
            for w in cmd:gmatch("%S+") do words[#words + 1] = w end
            local h = help_of(words)
            for flag in cmd:gmatch("%f[%w%-](%-%-?%a[%w%-]*)") do
              local pat = "%f[%w%-]" .. flag:gsub("%-", "%%-") .. "%f[^%w%-]"
              assert.truthy(h:find(pat), ("README.md:%d: %s is not in the help of %s"):format(ln, flag, cmd))
              checked = checked + 1
            end
          end
        end
      end
    end
    assert.is_true(checked >= 10)
  end)
end)
