local ledger = require "isync.ledger"

local function tmp()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. d))
  return d
end

local function read(path) local f = assert(io.open(path, "rb")); local s = f:read("a"); f:close(); return s end
local function write(path, s) local f = assert(io.open(path, "wb")); f:write(s); f:close() end

describe("isync.ledger", function()
  it("keeps blob and image facts across runs", function()
    local dir = tmp()
    local l = assert(ledger.open(dir .. "/sub/ledger"))
    l:add_blob("https://r", "a/b", "sha256:11")
    l:add_blob("https://r", "c/d", "sha256:11")
    l:set_image("https://r/a/b:v1", "sha256:99")
    l:forget_blob("https://r", "c/d", "sha256:11")
    l:close()
    local again = assert(ledger.open(dir .. "/sub/ledger"))
    assert.is_true(again:has_blob("https://r", "a/b", "sha256:11"))
    assert.is_false(again:has_blob("https://r", "c/d", "sha256:11"))
    assert.same({ "a/b" }, again:blob_repos("https://r", "sha256:11"))
    assert.equal("sha256:99", again:image("https://r/a/b:v1"))
    assert.equal(0, again.skipped)
    again:close()
    os.execute("rm -rf " .. dir)
  end)

  it("ignores a torn last record and appends cleanly after it", function()
    local dir = tmp()
    local path = dir .. "/ledger"
    local l = assert(ledger.open(path))
    l:add_blob("b", "r", "sha256:1")
    l:add_blob("b", "r", "sha256:2")
    l:close()
    local s = read(path)
    write(path, s .. s:sub(1, 12))          -- a crash in the middle of a third record
    l = assert(ledger.open(path))           -- the torn tail is cut on open
    assert.is_true(l:has_blob("b", "r", "sha256:2"))
    l:add_blob("b", "r", "sha256:3")
    l:close()
    l = assert(ledger.open(path))
    assert.is_true(l:has_blob("b", "r", "sha256:3"))
    assert.equal(0, l.skipped)
    l:close()
    -- a record whose checksum does not match is skipped, the rest still loads
    s = read(path)
    write(path, (s:gsub("sha256:2", "sha256:X", 1)))
    l = assert(ledger.open(path))
    assert.equal(1, l.skipped)
    assert.is_false(l:has_blob("b", "r", "sha256:X"))
    assert.is_true(l:has_blob("b", "r", "sha256:3"))
    l:close()
    os.execute("rm -rf " .. dir)
  end)

  it("refuses a second user of the same ledger", function()
    local dir = tmp()
    local a = assert(ledger.open(dir .. "/ledger"))
    local b, err, code = ledger.open(dir .. "/ledger")
    assert.is_nil(b)
    assert.equal("LEDGER", code)
    assert.matches("in use", err)
    a:close()
    assert(ledger.open(dir .. "/ledger")):close()
    os.execute("rm -rf " .. dir)
  end)

  it("compacts a file full of superseded records", function()
    local dir = tmp()
    local path = dir .. "/ledger"
    local l = assert(ledger.open(path))
    for i = 1, 1200 do l:set_image("k", "sha256:" .. i) end
    assert(l:sync())
    l:close()
    local lines = select(2, read(path):gsub("\n", ""))
    assert.equal(1, lines)
    l = assert(ledger.open(path))
    assert.equal("sha256:1200", l:image("k"))
    l:close()
    os.execute("rm -rf " .. dir)
  end)

  it("an error raised by the load callback propagates after the file is closed", function()
    local core = require "isync.core"
    local dir = tmp()
    local path = dir .. "/ledger"
    local l = assert(ledger.open(path))
    l:add_blob("b", "r", "sha256:1")
    l:add_blob("b", "r", "sha256:2")
    l:close()
    local function open_fds()
      local st = assert(io.open("/proc/self/stat"))   -- opened by this process: its pid
      local pid = st:read("n")
      st:close()
      local p = io.popen("ls /proc/" .. pid .. "/fd")
      local n = 0
      for _ in p:lines() do n = n + 1 end
      p:close()
      return n
    end
    local file = assert(core.ledger_open(path))
    local seen = {}
    local before = open_fds()
    for _ = 1, 50 do
      seen = {}
      local ok, err = pcall(file.load, file, function(rec)
        seen[#seen + 1] = rec
        error("boom in callback", 0)
      end)
      assert.is_false(ok)
      assert.equal("boom in callback", err)
      assert.equal(1, #seen)          -- the load stopped at the first error
    end
    assert.is_true(open_fds() <= before)   -- no FILE left open per failed load
    -- the ledger is still usable, and the callback form sees every record
    local n = 0
    assert.equal(0, file:load(function() n = n + 1 end))
    assert.equal(2, n)
    local records, skipped = file:load()
    assert.equal(2, #records)
    assert.equal(0, skipped)
    file:close()
    os.execute("rm -rf " .. dir)
  end)

  it("says where it cannot write", function()
    local l, err = ledger.open("/proc/nonexistent-dir/ledger")
    assert.is_nil(l)
    assert.matches("/proc/nonexistent%-dir/ledger", err)
  end)
end)
