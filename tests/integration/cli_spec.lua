-- The command line as a person meets it: help and version, flag forms (--flag=value,
-- -q/-v), docker:// references, --json output, exit statuses, cp's progress line on a
-- terminal, and --help of every example script. Against the registry-env registries.
local json = require "isync.json"
local H = require "helpers"

local function lines_with(text, needle)
  local n = 0
  for line in text:gmatch("[^\n]+") do if line:find(needle, 1, true) then n = n + 1 end end
  return n
end

describe("command line", function()
  local P, P2
  setup(function() P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2") end)

  it("isync help and isync version; help lists the exit statuses", function()
    local ok, out = H.isync("help")
    assert(ok, out)
    assert.matches("isync cp SRC DST", out, 1, true)
    for _, code in ipairs { "0 ", "1 ", "2 ", "130 " } do assert.matches("\n  " .. code, out, 1, true) end
    local ok2, v = H.isync("version")
    assert(ok2, v)
    assert.matches("^isync %d+%.%d+%.%d+\n$", v)
    local _, v2 = H.isync("--version")
    assert.equal(v, v2)
  end)

  it("a command's help shows its own flags only, each described, the same by both spellings", function()
    local _, cp = H.isync("help cp")
    local _, cp2 = H.isync("cp --help")
    local _, ls = H.isync("help ls")
    assert.equal(cp, cp2)
    for _, f in ipairs { "--force", "--dry-run", "--src-ca FILE", "--dst-insecure", "--json", "-q ", "-v " } do
      assert.equal(1, lines_with(cp, "  " .. f), f)
    end
    for _, f in ipairs { "--force", "--dry-run", "--src-ca", "--dst-insecure" } do
      assert.equal(0, lines_with(ls, f), f)
    end
    assert.equal(1, lines_with(ls, "  --digests "))
    -- every flag line carries a description
    for line in (ls .. cp):gmatch("\n  (%-[^\n]*)") do assert.matches("^%S+[ A-Z]*%s%s+%S", line) end
    assert.matches("exit status:", ls, 1, true)
  end)

  it("usage errors exit 2 with one line naming the flag", function()
    for _, args in ipairs { "ls --bogus x", "cp --ca", "ls --digests=yes x", "cp onlyone", "help nosuch" } do
      local ok, out, code = H.isync(args)
      assert.is_false(ok, args)
      assert.equal(2, code, args .. ": " .. out)
    end
    local _, out = H.isync("ls --bogus x")
    assert.equal("isync: unknown flag --bogus for isync ls (see isync ls --help)\n", out)
  end)

  it("cp and ls: docker:// references, --flag=value, --json, -q and -v", function()
    local repo = H.unique("cli/json-")
    local img = H.mkimage("plain", "single", repo, "v1", "--layers", "2", "--layer-size", "4K")
    local ok, out = H.isync(("cp -v --dst-plain-http --json docker://%s/%s:v1 docker://%s/%s 2>/dev/null")
      :format(P, repo, P2, repo))
    assert(ok, out)
    local r = assert(json.decode(out))
    assert.equal("copied", r.status)
    assert.equal(img.digest, r.digest)
    assert.equal(P .. "/" .. repo .. ":v1", r.source)
    assert.equal(P2 .. "/" .. repo .. ":v1", r.destination)
    assert.equal(3, r.blobs_copied)   -- two layers and the config
    assert.is_true(r.bytes > 8192)
    assert(H.verify("plain", repo, "v1", "plain2", repo, "v1"))
    -- again: nothing to copy, said in JSON too; -q prints only the result
    ok, out = H.isync(("cp -q --json docker://%s/%s:v1 %s/%s:v1"):format(P, repo, P2, repo))
    assert(ok, out)
    assert.equal("skipped", assert(json.decode(out)).status)
    -- --flag=value: a CA file that does not exist is read (and refused), so the value arrived
    ok, out = H.isync(("ls --ca=%s %s/%s"):format("/nonexistent/ca.pem", P2, repo))
    assert.is_false(ok)
    assert.matches("/nonexistent/ca.pem", out, 1, true)
    ok, out = H.isync(("ls -q --json --digests docker://%s/%s 2>/dev/null"):format(P2, repo))
    assert(ok, out)
    local l = assert(json.decode(out))
    assert.equal(P2 .. "/" .. repo, l.repository)
    assert.same({ { tag = "v1", digest = img.digest } }, l.tags)
    ok, out = H.isync(("ls --json %s/%s 2>/dev/null"):format(P2, repo))
    assert(ok, out)
    assert.same({ "v1" }, assert(json.decode(out)).tags)
  end)

  it("cp shows bytes and rate on a terminal, not with -q and not in a pipe", function()
    local repo = H.unique("cli/prog-")
    H.mkimage("plain", "bigblob", repo, "big", "--size", "160M")
    -- `script` gives isync a pseudo-terminal, as a person running it has
    local cmd = ("%s cp %s/%s:big %s/prog/%s"):format(H.q(H.bin), P, repo, P2, repo)
    local ok, out = H.sh(("script -qec %s /dev/null"):format(H.q(cmd)))
    assert(ok, out)
    assert.matches("\r\27%[Kisync: [%d.]+ [KMG]?B moved, [%d.]+ [KMG]?B/s", out)
    assert.matches("copied ", out, 1, true)
    ok, out = H.sh(("script -qec %s /dev/null"):format(H.q(cmd:gsub(" cp ", " cp -q --force ", 1))))
    assert(ok, out)
    assert.is_nil(out:find("moved,", 1, true), out)
    ok, out = H.isync(("cp --force %s/%s:big %s/prog/%s"):format(P, repo, P2, repo))
    assert(ok, out)
    assert.is_nil(out:find("\27", 1, true), out)
  end)

  it("-q and -v in the image-syncer mode too (its --quiet and --verbose)", function()
    local dir = H.tmpdir()
    local repo = H.unique("cli/qv-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "1K")
    H.write(dir .. "/auth.json", json.encode({ [P] = { insecure = true }, [P2] = { insecure = true } }))
    H.write(dir .. "/images.json", json.encode({ [P .. "/" .. repo] = P2 .. "/qv/" .. repo }))
    local args = ("--auth %s --images %s --no-ledger --force"):format(H.q(dir .. "/auth.json"), H.q(dir .. "/images.json"))
    local ok, out = H.isync("-q " .. args)
    assert(ok, out)
    assert.matches("1 image: 1 copied", out, 1, true)
    assert.is_nil(out:find("Z copied ", 1, true), out)   -- no per-image line when quiet
    ok, out = H.isync("-v " .. args)
    assert(ok, out)
    assert.matches("Z copied ", out, 1, true)
    H.rm(dir)
  end)

  it("every example script answers --help with its usage, exit 0", function()
    local p = io.popen("ls " .. H.q(H.root .. "/scripts") .. "/*.lua")
    local n = 0
    for path in p:lines() do
      local name = path:match("([^/]+)$")
      local ok, out, code = H.isync(H.q(path) .. " --help")
      assert(ok, name .. " --help: exit " .. tostring(code) .. ": " .. out)
      assert.matches("isync scripts/" .. name, out, 1, true)
      assert.is_nil(out:find("see the comment", 1, true), name)
      n = n + 1
    end
    p:close()
    assert.is_true(n >= 6)
  end)
end)
