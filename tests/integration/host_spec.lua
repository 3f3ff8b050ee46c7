-- The isync host as a user meets it: options, errors, arg, Ctrl-C.
local H = require "helpers"

local function script(body)
  local path = os.tmpname() .. ".lua"
  local f = assert(io.open(path, "w"))
  f:write(body)
  f:close()
  return path
end

describe("the isync host", function()
  it("answers --help and --version", function()
    local ok, out = H.isync("--help")
    assert(ok, out)
    assert.matches("usage: isync", out)
    ok, out = H.isync("--version")
    assert(ok, out)
    assert.matches("^isync %d+%.%d+%.%d+", out)
  end)

  it("sets arg as lua does and passes the script's exit status", function()
    local p = script('print(arg[0] == ... and "bad" or "ok", #arg, arg[1], arg[2], select("#", ...)); return tonumber(arg[2])')
    local ok, out, code = H.isync(H.q(p) .. " one 3")
    assert.is_false(ok)
    assert.equal(3, code)
    assert.matches("ok\t2\tone\t3\t2", out)
    os.remove(p)
  end)

  it("prints a script error on one line and exits 1; --trace adds a traceback", function()
    local p = script('local function f() error("boom here") end\nf()\n')
    local ok, out, code = H.isync(H.q(p))
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("^isync: .-:1: boom here\n$", out)
    ok, out = H.isync("--trace " .. H.q(p))
    assert.is_false(ok)
    assert.matches("stack traceback", out)
    ok, out = H.isync(H.q(p), { ISYNC_TRACE = "1" })
    assert.matches("stack traceback", out)
    os.remove(p)
  end)

  it("names a missing script, a syntax error and an unknown option", function()
    local ok, out, code = H.isync("/nonexistent/policy.lua")
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("^isync: cannot open /nonexistent/policy.lua", out)
    local p = script("local x = = 1\n")
    ok, out = H.isync(H.q(p))
    assert.is_false(ok)
    assert.matches(":1: unexpected symbol", out)
    os.remove(p)
    ok, out = H.isync("--frobnicate")
    assert.is_false(ok)
    assert.matches("unknown option %-%-frobnicate", out)
  end)
end)

describe("Ctrl-C", function()
  it("stops a top-level isync.map promptly", function()
    local p = os.tmpname() .. ".lua"
    H.write(p, 'local isync = require "isync"\nisync.map({1,2,3,4,5,6,7,8}, 2, function() isync.sleep(1) end)\nprint("finished")\n')
    local ok, out = H.sh(("(exec %s %s) & pid=$!; sleep 0.5; kill -INT $pid; s=$(date +%%s%%N); wait $pid; " ..
      "echo rc=$? ms=$(( ($(date +%%s%%N) - s) / 1000000 ))"):format(H.q(H.bin), H.q(p)))
    os.remove(p)
    local rc, ms = out:match("rc=(%d+) ms=(%d+)")
    assert.equal(130, tonumber(rc), out)
    assert.is_nil(out:find("finished", 1, true))
    assert.is_true(tonumber(ms) < 1500, out)
  end)
end)

describe("many blobs", function()
  it("do not add up in memory: each copy's buffer is given back when it ends", function()
    -- 80 layers of 1 MiB, 4 at a time: a 1 MiB ring kept per copy (until the garbage
    -- collector finds its small handle) would put the peak near 100 MiB
    local repo = H.unique("many/blobs-")
    H.mkimage("plain", "single", repo, "v1", "--layers", "80", "--layer-size", "1M")
    local ok, out = H.isync(table.concat({ H.q(H.root .. "/tests/integration/scripts/copyrss.lua"),
      H.env("ISYNC_T_PLAIN"), repo, "v1", H.env("ISYNC_T_PLAIN2"), repo }, " "))
    assert(ok, out)
    local n, rss = out:match("blobs_copied=(%d+) peak_rss_kb=(%d+)")
    io.stderr:write("\n# many blobs: ", out)
    assert.equal(81, tonumber(n))
    if not H.sanitized then   -- ASan's shadow memory and quarantine are not ours
      assert.is_true(tonumber(rss) < 40 * 1024, "peak RSS " .. rss .. " kB")
    end
  end)
end)

describe("big blobs", function()
  local big   -- pushed once: {repo, digest, size}
  setup(function()
    local size = os.getenv("ISYNC_T_BIG_SIZE") or "512M"
    local repo = H.unique("big/blob-")
    local info = H.mkimage("plain", "bigblob", repo, "v1", "--size", size)
    for _, b in ipairs(info.blobs) do
      if not big or b.size > big.size then big = { repo = repo, digest = b.digest, size = b.size } end
    end
  end)

  it("streams a 512 MiB blob with peak RSS under 64 MiB, digest intact, beyond the request timeout", function()
    assert.is_true(big.size >= 512 * 1024 * 1024 or os.getenv("ISYNC_T_BIG_SIZE") ~= nil)
    local dst_repo = big.repo .. "-copy"
    -- a 1 s metadata timeout: the stream takes longer and must not be cut by it
    local ok, out = H.isync(table.concat({ H.q(H.root .. "/tests/integration/scripts/blobcopy.lua"),
      H.env("ISYNC_T_PLAIN"), big.repo, big.digest, big.size, H.env("ISYNC_T_PLAIN2"), dst_repo }, " "),
      { ISYNC_T_TIMEOUT = "1" })
    assert(ok, out)
    local n, rss = out:match("bytes=(%d+) .* peak_rss_kb=(%d+)")
    io.stderr:write("\n# big blob: ", out)
    assert.equal(big.size, tonumber(n))
    if not H.sanitized then   -- ASan's shadow memory and quarantine are not ours
      assert.is_true(tonumber(rss) < 64 * 1024, "peak RSS " .. rss .. " kB")
    end
    local reg = H.registry("plain2")
    assert.equal(big.size, reg:blob_exists(dst_repo, big.digest))
  end)

  it("stops promptly on Ctrl-C mid-copy and cancels the open upload", function()
    local dst_repo = big.repo .. "-interrupted"
    local cmd = table.concat({ "exec", H.q(H.bin), H.q(H.root .. "/tests/integration/scripts/blobcopy.lua"),
      H.env("ISYNC_T_PLAIN"), big.repo, big.digest, big.size, H.env("ISYNC_T_PLAIN2"), dst_repo }, " ")
    -- SIGINT once bytes are flowing (the copy takes seconds)
    local ok, out = H.sh(("(%s) & pid=$!; sleep 0.7; kill -INT $pid; start=$(date +%%s%%N); wait $pid; rc=$?; " ..
      "echo rc=$rc ms=$(( ($(date +%%s%%N) - start) / 1000000 ))"):format(cmd))
    local rc, ms = out:match("rc=(%d+) ms=(%d+)")
    assert.equal(130, tonumber(rc), out)
    assert.matches("isync: interrupted", out)
    assert.is_true(tonumber(ms) < 3000, "took " .. ms .. " ms to stop")
    -- nothing half-written: no blob; and the open upload session was DELETEd. (distribution
    -- 2.8 answers that DELETE with BLOB_UPLOAD_INVALID because the aborted body moved its
    -- offset past the one in _state; it cancels the upload all the same)
    assert.same(false, H.registry("plain2"):blob_exists(dst_repo, big.digest))
    local log = H.env("ISYNC_T_DIR") .. "/plain2.log"
    local uuid, deleted = nil, {}
    local pat = dst_repo:gsub("%-", "%%-") .. "/blobs/uploads/([%x%-]+)"
    for l in io.lines(log) do
      uuid = l:match('"PUT /v2/' .. pat) or uuid
      local d = l:match('"DELETE /v2/' .. pat)
      if d then deleted[d] = true end
    end
    deleted = uuid and deleted[uuid]
    assert.truthy(uuid, "no upload was started")
    assert.is_true(deleted, "the upload session " .. tostring(uuid) .. " was not deleted")
  end)
end)
