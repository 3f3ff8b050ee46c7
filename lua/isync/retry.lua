-- isync.retry: which failures are worth another try, and how long to wait.
--
-- Transient: connection failures, resets and short reads, timeouts, 408, 429, 5xx, a body
-- that did not match its digest or size (a truncated transfer), an upload session the
-- registry lost, and MANIFEST_BLOB_UNKNOWN (object-store registries can report a blob
-- missing for a moment after it was committed). Everything else (401, 403, 404, an
-- invalid manifest, TLS) is permanent and fails at once with the registry's message.
-- Waits grow exponentially with full jitter; Retry-After, when given, wins.
local M = {}

local TRANSIENT = {
  CONNECT = true, NETWORK = true, TIMEOUT = true, SERVER_ERROR = true, TOOMANYREQUESTS = true,
  DIGEST_MISMATCH = true, SIZE_MISMATCH = true, BLOB_UPLOAD_UNKNOWN = true, BLOB_UPLOAD_INVALID = true,
  MANIFEST_BLOB_UNKNOWN = true, UNAVAILABLE = true,
}

M.defaults = { attempts = 5, base = 0.25, max = 8, max_retry_after = 120 }

--- true when a failure with this code (and info {status, retry_after}) may succeed later.
function M.transient(code, info)
  if TRANSIENT[code] then return true end
  local status = info and info.status
  return status == 408 or status == 429 or (status ~= nil and status >= 500)
end

--- Seconds to wait before attempt number `attempt` + 1 (attempt counts from 1).
function M.delay(policy, attempt, info)
  if info and info.retry_after then return math.min(info.retry_after, policy.max_retry_after or 120) end
  local ceiling = math.min(policy.max, policy.base * 2 ^ (attempt - 1))
  return ceiling * (0.5 + math.random() * 0.5)
end

--- Merges a partial policy over the defaults.
function M.policy(p)
  local out = {}
  for k, v in pairs(M.defaults) do out[k] = v end
  if p == false then out.attempts = 1 end
  if type(p) == "table" then for k, v in pairs(p) do out[k] = v end end
  return out
end

--- Calls fn(...) until it returns a value, a permanent failure, or attempts run out.
--- sleep(seconds) waits (isync.sleep); on_retry(err, code, delay, attempt) is told of each retry.
function M.call(policy, sleep, on_retry, fn, ...)
  local attempt = 1
  while true do
    local v, err, code, info = fn(...)
    if v ~= nil then return v, err, code, info end
    if attempt >= policy.attempts or not M.transient(code, info) then
      if attempt > 1 then err = ("%s (after %d attempts)"):format(err, attempt) end
      return nil, err, code, info
    end
    local d = M.delay(policy, attempt, info)
    if on_retry then on_retry(err, code, d, attempt) end
    sleep(d)
    attempt = attempt + 1
  end
end

return M
