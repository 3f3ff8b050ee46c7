-- isync.retry: which failures are worth another try, and how long to wait.
--
-- Transient (the codes of class "transient" in isync.code_info): connection failures, resets
-- and short reads, timeouts, 408, 429, 5xx, a body that did not match its digest or size (a
-- truncated transfer), an upload session the registry lost, and MANIFEST_BLOB_UNKNOWN
-- (object-store registries can report a blob missing for a moment after it was committed).
-- Everything else (401, 403, 404, an invalid manifest, TLS) is permanent and fails at once
-- with the registry's message.
-- Waits grow exponentially with full jitter; Retry-After, when given, wins.
--
-- Time bounds. A registry that stalls must not hold a run for minutes, so three failures
-- are not retried like the others:
--   * a stall (TIMEOUT): the requests of one image share a budget (M.budget) of time lost
--     to stalls, by default one stall timeout of the registry: the first stall spends it
--     and the image fails then, instead of stall_timeout x attempts x image rounds;
--   * a Retry-After beyond max_retry_after (300 s) fails at once, naming the wait asked for,
--     and so does one that would take the image's Retry-After waits, added up, beyond it;
--   * an address that does not resolve or refuses connections (CONNECT) gets one quick
--     retry: nothing there will answer within a backoff.
-- Such a failure also marks the budget final: plans do not give the image another round.
local core = require "isync.core"

local M = {}

-- The class of each code comes from the one table C and Lua share (src/util/errors.c).
local CODE_INFO = core.code_info

M.defaults = { attempts = 5, base = 0.25, max = 8, max_retry_after = 300, connect_attempts = 2 }

--- true when a failure with this code (and info {status, retry_after}) may succeed later.
function M.transient(code, info)
  local ci = CODE_INFO[code]
  if ci and ci.class == "transient" then return true end
  local status = info and info.status
  return status == 408 or status == 429 or (status ~= nil and status >= 500)
end

--- Seconds to wait before attempt number `attempt` + 1 (attempt counts from 1).
function M.delay(policy, attempt, info)
  if info and info.retry_after then return math.max(0, info.retry_after) end
  local ceiling = math.min(policy.max, policy.base * 2 ^ (attempt - 1))
  return ceiling * (0.5 + math.random() * 0.5)
end

--- Merges a partial policy over the defaults.
--- The keys a retry policy table may hold (checked by isync.registry).
M.OPTIONS = { "attempts", "base", "max", "max_retry_after" }

function M.policy(p)
  local out = {}
  for k, v in pairs(M.defaults) do out[k] = v end
  if p == false then out.attempts = 1 end
  if type(p) == "table" then for k, v in pairs(p) do out[k] = v end end
  return out
end

--- A retry budget for one image, shared by all its requests. opts: stall (seconds of
--- stalled requests the image may spend; default the stalling registry's stall timeout),
--- max_retry_after (overrides the registries' cap). budget.final is set when a failure
--- should not be retried by a later round either.
function M.budget(opts)
  opts = opts or {}
  return { stall = opts.stall, max_retry_after = opts.max_retry_after, stalled = 0, waited = 0, final = false }
end

-- nil when the failure may be retried, else the (possibly amended) message to return.
local function stop(policy, attempt, err, code, info, env, elapsed)
  local budget = env.budget
  local function tried() return attempt > 1 and ("%s (after %d attempts)"):format(err, attempt) or err end
  if not M.transient(code, info) then return tried() end
  local cap = budget.max_retry_after or policy.max_retry_after
  local ra = info and info.retry_after
  if ra and ra > cap then
    budget.final = true
    return ("%s; %s asked to retry after %d s, more than the %d s allowed (max_retry_after): not waiting"):format(
      err, env.name or "the registry", ra, cap)
  end
  if ra and budget.waited + ra > cap then
    budget.final = true
    return ("%s; %s asked to retry after %d s, and this image has waited %d s already of the %d s allowed (max_retry_after)"):format(
      err, env.name or "the registry", ra, budget.waited, cap)
  end
  if code == "TIMEOUT" then
    budget.stalled = budget.stalled + elapsed
    local limit = budget.stall or env.stall_timeout or 60
    if budget.stalled >= limit then
      budget.final = true
      return ("%s (not retried: the image's requests stalled for %.0f s, its stall budget is %.0f s)"):format(
        err, budget.stalled, limit)
    end
  end
  if budget.final then return tried() end   -- the image has failed already: do not linger
  if code == "CONNECT" and attempt >= policy.connect_attempts then
    budget.final = true
    return tried()
  end
  if attempt >= policy.attempts then return tried() end
end

--- Calls fn() until it returns a value, a permanent failure, or attempts run out.
--- sleep(seconds) waits (isync.sleep); on_retry(err, code, delay, attempt) is told of each retry.
--- env: budget (M.budget; a private one otherwise), name (the registry, for messages),
--- stall_timeout (the registry's, seconds), clock (seconds, monotonic).
function M.call(policy, sleep, on_retry, fn, env)
  env = env or {}
  if not env.budget then env.budget = M.budget() end
  local clock = env.clock or os.time
  local attempt = 1
  while true do
    local t0 = clock()
    local v, err, code, info = fn()
    if v ~= nil then return v, err, code, info end
    local final = stop(policy, attempt, err, code, info, env, clock() - t0)
    if final then return nil, final, code, info end
    local d = code == "CONNECT" and policy.base * (0.5 + math.random() * 0.5) or M.delay(policy, attempt, info)
    if info and info.retry_after then env.budget.waited = env.budget.waited + d end
    if on_retry then on_retry(err, code, d, attempt) end
    sleep(d)
    attempt = attempt + 1
  end
end

return M
