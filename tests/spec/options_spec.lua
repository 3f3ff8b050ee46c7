-- Option tables: a misspelt key is an error naming it and the caller's line.
local isync = require "isync"

local function err_of(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok)
  return err
end

describe("option tables", function()
  it("name an unknown key, suggest the known one, and point at the caller", function()
    local err = err_of(function() isync.registry("127.0.0.1:1", { max_conections = 3 }) end)
    assert.matches("options_spec%.lua:%d+: isync%.registry options: unknown option 'max_conections', did you mean 'max_connections'%?", err)
    err = err_of(function() isync.plan { concurency = 3 } end)
    assert.matches("options_spec%.lua:%d+: isync%.plan options: unknown option 'concurency', did you mean 'concurrency'%?", err)
    err = err_of(function() isync.copy(nil, "r", "t", nil, "r", "t", { dryrun = true }) end)
    assert.matches("options_spec%.lua:%d+: isync%.copy options: unknown option 'dryrun', did you mean 'dry_run'%?", err)
    err = err_of(function() isync.mirror { form = "x" } end)
    assert.matches("isync%.mirror spec: unknown option 'form', did you mean 'from'%?", err)
    err = err_of(function() isync.registry("127.0.0.1:1", { retry = { attemps = 2 } }) end)
    assert.matches("retry: unknown option 'attemps', did you mean 'attempts'%?", err)
    err = err_of(function() isync.log { levle = "quiet" } end)
    assert.matches("isync%.log options: unknown option 'levle'", err)
  end)

  it("accept every documented key", function()
    local reg = isync.registry("127.0.0.1:1", { plain_http = true, docker_config = false, max_connections = 2,
      retry = { attempts = 1, base = 0.1, max = 1, max_retry_after = 10 }, timeout = 5, stall_timeout = 5 })
    assert.truthy(reg)
    assert.truthy(isync.plan { concurrency = 2, dry_run = true, retries = 1 })
  end)

  it("refuse a table where none belongs and a non-table where one does", function()
    assert.matches("isync%.registry options: a table is needed, not a string", err_of(function() isync.registry("127.0.0.1:1", "plain") end))
  end)
end)

describe("numeric options", function()
  it("must be positive numbers: a string stall_timeout fails at the call, not mid-copy", function()
    local ok, err = pcall(isync.registry, "127.0.0.1:1", { stall_timeout = "30" })
    assert.is_false(ok)
    assert.matches('stall_timeout must be a positive integer, not "30"', err)
    ok, err = pcall(isync.plan, { max_retry_after = -1 })
    assert.is_false(ok)
    assert.matches("max_retry_after must be a positive number, not %-1", err)
  end)
end)
