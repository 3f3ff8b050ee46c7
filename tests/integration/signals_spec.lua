-- Honest signals for scripts, against real registries: exit statuses, what the output files
-- claim, Ctrl-C mid-run, failures in tasks nobody waited for, and errors that point at the
-- user's own file and line.
local H = require "helpers"
local json = require "isync.json"

-- An images file and an auth file marking the plain-HTTP registries (and extra hosts) insecure.
local function files(dir, images, extra_hosts)
  local auth = { [H.env("ISYNC_T_PLAIN")] = { insecure = true }, [H.env("ISYNC_T_PLAIN2")] = { insecure = true } }
  for _, h in ipairs(extra_hosts or {}) do auth[h] = { insecure = true } end
  H.write(dir .. "/auth.json", json.encode(auth))
  H.write(dir .. "/images.json", json.encode(images))
  return "--auth " .. H.q(dir .. "/auth.json") .. " --images " .. H.q(dir .. "/images.json")
end

local function images_in(path)
  local doc = assert(json.decode(assert(H.read(path), "no " .. path)))
  local out = {}
  for src, dests in pairs(doc) do for _, d in ipairs(dests) do out[#out + 1] = src .. " -> " .. d end end
  table.sort(out)
  return out
end

describe("signals", function()
  local P, P2
  setup(function() P, P2 = H.env("ISYNC_T_PLAIN"), H.env("ISYNC_T_PLAIN2") end)

  it("isync ls of a repository that does not exist exits 1 naming NAME_UNKNOWN", function()
    local ok, out, code = H.isync("ls --plain-http " .. H.q(P .. "/" .. H.unique("signals/none-")))
    assert.is_false(ok, out)
    assert.equal(1, code, out)
    assert.matches("NAME_UNKNOWN", out)
  end)

  it("image-syncer mode keeps the default ledger ($XDG_STATE_HOME/isync/ledger)", function()
    local dir = H.tmpdir()
    local repo = H.unique("signals/ledger-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "1", "--layer-size", "2K")
    local args = files(dir, { [P .. "/" .. repo .. ":v1"] = P2 .. "/" .. repo })
    local ok, out = H.isync(args, { XDG_STATE_HOME = dir .. "/state" })
    assert(ok, out)
    local ledger = H.read(dir .. "/state/isync/ledger")
    assert.truthy(ledger, "no default ledger written: " .. out)
    assert.matches(repo, ledger, 1, true)
    H.rm(dir)
  end)

  it("--output-success-images lists only the images this run copied", function()
    local dir = H.tmpdir()
    local repo = H.unique("signals/success-")
    H.mkimage("plain", "single", repo, "a", "--layers", "1", "--layer-size", "2K")
    H.mkimage("plain", "single", repo, "b", "--layers", "1", "--layer-size", "2K", "--platform", "linux/arm64")
    local args = files(dir, { [P .. "/" .. repo .. ":a,b"] = P2 .. "/" .. repo }) .. " --no-ledger --output-images-format json"
    local src, dst = P .. "/" .. repo .. ":", P2 .. "/" .. repo .. ":"
    -- b is filtered out by --arch: in the report as skipped, not a success
    local ok, out = H.isync(args .. " --arch amd64 --output-success-images " .. H.q(dir .. "/ok1.json")
      .. " --report " .. H.q(dir .. "/r1.json"))
    assert(ok, out)
    assert.same({ src .. "a -> " .. dst .. "a" }, images_in(dir .. "/ok1.json"))
    local r1 = json.decode(H.read(dir .. "/r1.json"))
    assert.equal(1, r1.copied)
    assert.equal(1, r1.skipped)
    -- a re-run: a is unchanged, b copied now
    ok, out = H.isync(args .. " --output-success-images " .. H.q(dir .. "/ok2.json"))
    assert(ok, out)
    assert.same({ src .. "b -> " .. dst .. "b" }, images_in(dir .. "/ok2.json"))
    -- nothing changed: nothing synced
    ok, out = H.isync(args .. " --output-success-images " .. H.q(dir .. "/ok3.json") .. " --report " .. H.q(dir .. "/r3.json"))
    assert(ok, out)
    assert.same({}, images_in(dir .. "/ok3.json"))
    assert.equal(2, json.decode(H.read(dir .. "/r3.json")).skipped)
    H.rm(dir)
  end)

  it("Ctrl-C mid-run writes the summary and a report of what finished, and exits 130", function()
    local dir = H.tmpdir()
    local repo = H.unique("signals/int-")
    H.mkimage("plain", "single", repo, "fast", "--layers", "1", "--layer-size", "4K")
    local slow = H.mkimage("plain", "single", repo, "slow", "--layers", "1", "--layer-size", "64K")
    local layer
    for _, b in ipairs(slow.blobs) do if not layer or b.size > layer.size then layer = b end end
    -- the slow image's layer is held back far longer than the test waits
    local proxy = H.start_proxy("plain", dir, "slow", "--only '/blobs/" .. layer.digest .. "' --delay-ms 60000")
    local args = files(dir, { [proxy.addr .. "/" .. repo .. ":fast,slow"] = P2 .. "/" .. repo }, { proxy.addr })
    local cmd = ("%s %s --no-ledger --proc 2 --log %s --report %s"):format(H.q(H.bin), args, H.q(dir .. "/log"),
      H.q(dir .. "/r.json"))
    local _, out = H.sh(("(exec %s) & pid=$!; for i in $(seq 1500); do grep -q ' copied ' %s 2>/dev/null && break; sleep 0.02; done; " ..
      "kill -INT $pid; wait $pid; echo rc=$?"):format(cmd, H.q(dir .. "/log")))
    H.stop_proxy(proxy)
    local log = H.read(dir .. "/log") or ""
    assert.matches("rc=130", out, 1, true)
    assert.matches("2 images: 1 copied, 0 skipped, 0 failed, 1 interrupted", log, 1, true)
    local r = assert(json.decode(assert(H.read(dir .. "/r.json"), "no report: " .. out .. log)))
    assert.equal(1, r.copied)
    assert.equal(1, r.interrupted)
    local by = {}
    for _, e in ipairs(r.images) do by[e.source:match(":(%w+)$")] = e end
    assert.equal("copied", by.fast.status)
    assert.equal("interrupted", by.slow.status)
    assert.equal("INTERRUPTED", by.slow.code)
    H.rm(dir)
  end)

  it("a task that fails with nobody waiting is reported and fails the run", function()
    local dir = H.tmpdir()
    local lines = {
      'local isync = require "isync"',
      'local reg = isync.registry(arg[1], { plain_http = true, docker_config = false })',
      'isync.spawn(function() assert(reg:manifest("signals/none", "x")) end)',
      'local waited = isync.spawn(function() assert(reg:manifest("signals/none", "y")) end)',
      'assert(not pcall(isync.wait, waited))',
      'isync.run(function() isync.sleep(0.1) end)',
      'print("script ended")',
    }
    H.write(dir .. "/lost.lua", table.concat(lines, "\n") .. "\n")
    local ok, out, code = H.isync(H.q(dir .. "/lost.lua") .. " " .. P)
    assert.is_false(ok, out)
    assert.equal(1, code, out)
    assert.matches("script ended", out, 1, true)
    assert.matches("a task nobody waited for failed: [^\n]*lost%.lua:3:", out)
    assert.is_nil(out:find("lost.lua:4:", 1, true))   -- the one waited for was seen by its waiter
    H.rm(dir)
  end)

  -- each case: a script line, the message it must give at line 3 of the user's script
  local misuse = {
    { 'isync.registry(P, { plain_http = true, max_conections = 4 })', "isync.registry options: unknown option 'max_conections'" },
    { 'isync.plan { concurency = 3 }', "isync.plan options: unknown option 'concurency'" },
    { 'isync.plan():run { dryrun = true }', "plan:run options: unknown option 'dryrun'" },
    { 'reg:tags("x", { missing = true })', "registry:tags options: unknown option 'missing'" },
    { 'isync.copy(reg, "a", "b", reg, "c", "d", { forse = true })', "isync.copy options: unknown option 'forse'" },
    { 'isync.mirror { from = reg, to = reg, plan = { concurency = 2 } }', "isync.plan options: unknown option 'concurency'" },
    { 'isync.mirror { from = reg, to = reg, tims = 2 }', "isync.mirror spec: unknown option 'tims'" },
    { 'isync.log { levl = "quiet" }', "isync.log options: unknown option 'levl'" },
    { 'isync.plan():copy(nil, reg:ref("a", "b"))', "plan:copy: a source ref is needed (argument 1" },
    { 'isync.registry(42)', "isync.registry: a host name is needed (argument 1)" },
  }
  for _, c in ipairs(misuse) do
    it("misuse is an error at the caller's line: " .. c[1], function()
      local dir = H.tmpdir()
      H.write(dir .. "/misuse.lua", table.concat({
        'local isync, P = require "isync", arg[1]',
        'local reg = isync.registry(P, { plain_http = true, docker_config = false })',
        c[1],
        'print("not reached")',
      }, "\n") .. "\n")
      local ok, out, code = H.isync(H.q(dir .. "/misuse.lua") .. " " .. P)
      assert.is_false(ok, out)
      assert.equal(1, code, out)
      assert.matches("isync: " .. dir .. "/misuse.lua:3: " .. c[2], out, 1, true)
      assert.is_nil(out:find("[isync]", 1, true), out)
      H.rm(dir)
    end)
  end

  it("a YAML images file with an error names the file, line and column", function()
    local dir = H.tmpdir()
    H.write(dir .. "/images.yaml", ("%q: %q\n%q: %q: x\n"):format(P .. "/a:1", P2 .. "/a", P .. "/b:1", P2 .. "/b"))
    local ok, out, code = H.isync("--images " .. H.q(dir .. "/images.yaml") .. " --no-ledger")
    assert.is_false(ok, out)
    assert.equal(1, code, out)
    assert.matches("isync: " .. dir .. "/images.yaml:2:%d+: mapping values are not allowed", out)
    H.rm(dir)
  end)
end)
