-- core.submit's arguments as the descriptors declare them, and Job handles closed after
-- their job finished but before core.poll collected them. Nothing here reaches a registry
-- (127.0.0.1:9 refuses at once).
local core = require "isync.core"

local DIGEST = "sha256:" .. string.rep("0", 64)

local function reg() return core.registry("127.0.0.1:9", { plain_http = true }) end

describe("core.submit integer arguments", function()
  it("take the whole range the descriptor allows, up to math.maxinteger", function()
    local j = core.submit("blob_get", reg(), { repo = "r", digest = DIGEST, max_size = math.maxinteger })
    assert.is_true(core.wait(j, 10000))
    j:close()
  end)

  it("refuse numbers out of range, NaN and infinities instead of converting them", function()
    for _, v in ipairs({ 2^63, -2^63 - 2^11, 0/0, math.huge, -math.huge, 86400001 }) do
      assert.has_error(function() core.submit("sleep", nil, { ms = v }) end)
    end
  end)

  it("take integral floats, and truncate others as before", function()
    local j = core.submit("sleep", nil, { ms = 2.0 })
    assert.is_true(core.wait(j, 5000))
    j:close()
    j = core.submit("sleep", nil, { ms = 1.5 })
    assert.is_true(core.wait(j, 5000))
    j:close()
  end)
end)

describe("a Job closed after it finished", function()
  it("is not handed out by core.poll", function()
    while core.poll(0) do end
    local j = core.submit("sleep", nil, { ms = 1 })
    local deadline = core.monotime() + 5
    while not j:done() and core.monotime() < deadline do os.execute("sleep 0.01") end
    assert.is_true(j:done())
    j:close()
    local got = core.poll(200)
    while got do
      assert.not_equal(j, got)
      got = core.poll(0)
    end
  end)

  it("is not handed out by core.poll after core.stop() ended it", function()
    while core.poll(0) do end
    local j = core.submit("sleep", nil, { ms = 60000 })
    core.stop()
    assert.is_true(j:done())
    j:close()
    local got = core.poll(0)
    while got do
      assert.not_equal(j, got)
      got = core.poll(0)
    end
  end)
end)
