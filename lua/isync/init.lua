-- isync: bulk container image sync. The public Lua API.
--
--   local isync = require "isync"
--   local src = isync.registry("127.0.0.1:5000", { plain_http = true })
--   local tags = src:tags("app/web")             -- blocks here; yields inside isync.run/spawn
--
-- World failures return nil, message, code (codes in isync.codes); misuse raises.
local core = require "isync.core"
local sched = require "isync.sched"
local dockerconfig = require "isync.dockerconfig"
local retry = require "isync.retry"
local trust = require "isync.trust"
local check = require "isync.check"

local M = {
  version = core.version,
  codes = core.codes,            -- code -> code: isync.codes.TIMEOUT == "TIMEOUT"
  code_info = core.code_info,    -- code -> {code, class = "transient"|"permanent"|"usage"|"local", meaning}
  spawn = sched.spawn,
  wait = sched.wait,
  all = sched.all,
  run = sched.run,
  map = sched.map,
  semaphore = sched.semaphore,
  sleep = sched.sleep,
  step = sched.step,
  fd = sched.fd,
  parse_ref = core.parse_ref,
  digest = core.digest,
  monotime = core.monotime,
}

local Registry = {}
Registry.__index = Registry
function Registry:__tostring() return "isync.Registry(" .. self.name .. ")" end

-- localhost, 127.0.0.0/8 and ::1: docker and crane speak plain HTTP to them when HTTPS
-- does not answer, so a local test registry needs no flag.
local function is_loopback(name)
  local host = name:match("^%[(.-)%]") or name:match("^([^:]+)")
  return host == "localhost" or host == "::1" or (host or ""):match("^127%.%d+%.%d+%.%d+$") ~= nil
end

-- Whether an HTTPS ping's failure means "this endpoint speaks plain HTTP, or no HTTPS":
-- for an insecure registry any transport failure; for a loopback one only a refused
-- connection or a handshake answered in plain HTTP, never a certificate that fails.
local function https_absent(code, err, insecure)
  if code == "CONNECT" then return true end
  if insecure then return code == "TLS" or code == "NETWORK" or code == "PROTOCOL" end
  return code == "TLS" and tostring(err):find("wrong version number", 1, true) ~= nil
end

--- Opens a registry by host name. opts: username, password, plain_http, skip_verify,
--- ca_file, ca_files, cert_file, key_file, connect_timeout, timeout, stall_timeout
--- (seconds), max_connections, docker_config (false to ignore the credential files),
--- certs_d (false to ignore certs.d directories: see isync.trust), http_fallback (try
--- plain HTTP when HTTPS does not answer; default for skip_verify and loopback hosts),
--- retry ({attempts, base, max, max_retry_after} for transient failures, or false for none).
local REGISTRY_OPTS = { "username", "password", "plain_http", "skip_verify", "ca_file", "ca_files", "cert_file",
  "key_file", "connect_timeout", "timeout", "stall_timeout", "max_connections", "docker_config", "certs_d",
  "http_fallback", "retry" }
function M.registry(name, opts)
  if type(name) ~= "string" then check.fail("isync.registry: a host name is needed (argument 1), not a " .. type(name)) end
  opts = check.options(opts, REGISTRY_OPTS, "isync.registry options")
  check.positive(opts, { "connect_timeout", "timeout", "stall_timeout", "max_connections" }, "isync.registry options", true)
  if type(opts.retry) == "table" then
    check.options(opts.retry, retry.OPTIONS, "isync.registry retry")
    check.positive(opts.retry, retry.OPTIONS, "isync.registry retry")
  end
  name = core.canonical_name(name)   -- Docker Hub's names are one registry, docker.io
  local copts = {}
  for k, v in pairs(opts) do copts[k] = v end
  local looked_in
  if copts.username == nil and copts.password == nil and opts.docker_config ~= false then
    local creds = dockerconfig.credentials(name)
    if creds then copts.username, copts.password = creds.username, creds.password
    else looked_in = dockerconfig.files() end
  end
  if not copts.plain_http and opts.certs_d ~= false then
    local t = trust.for_registry(name)
    if #t.ca_files > 0 then
      local all = {}
      for _, f in ipairs(copts.ca_files or {}) do all[#all + 1] = f end
      for _, f in ipairs(t.ca_files) do all[#all + 1] = f end
      copts.ca_files = all
    end
    if t.cert_file and not copts.cert_file then copts.cert_file, copts.key_file = t.cert_file, t.key_file end
  end
  local fallback = opts.http_fallback
  if fallback == nil then fallback = not opts.plain_http and (opts.skip_verify or is_loopback(name)) end
  copts.docker_config, copts.retry, copts.certs_d, copts.http_fallback = nil, nil, nil, nil
  local handle = core.registry(name, copts)
  if fallback and not copts.plain_http then
    -- one probe at open: the answer (or its absence) decides the scheme for the whole run
    local ok, err, code = sched.await(core.submit("ping", handle, {}))
    if not ok and https_absent(code, err, opts.skip_verify) then
      copts.plain_http, copts.skip_verify, copts.ca_files, copts.ca_file = true, nil, nil, nil
      local plain = core.registry(name, copts)
      if sched.await(core.submit("ping", plain, {})) then handle = plain end
    end
  end
  local self = setmetatable({ name = name, core = handle, looked_in = looked_in,
    retry = retry.policy(opts.retry), stats = { requests = 0, retries = 0 },
    stall_timeout = opts.stall_timeout or 60 }, Registry)   -- 60: the C default (registry.c)
  self.plain_http = copts.plain_http and true or false
  return self
end

--- Docker Hub's one-word repositories live under library/.
function Registry:repo(name)
  return (select(2, core.canonical_name(self.name, name)))
end

--- The hook told of every retry in the process: function(registry, op, message, code,
--- delay, attempt). A plan's own hook (its on_retry option, and its log) is told first, of
--- the retries of that plan's run only.
M.on_retry = nil
--- Told when each request (each attempt) ends: function(registry, op, seconds, code), code
--- "OK" on success; and of each retry, function(registry, op, code). isync.serve's metrics
--- use them (a plan's log takes on_retry for itself while it runs).
M.on_request = nil
M.on_request_retry = nil

-- One operation with the registry's retry policy: transient failures are tried again after
-- a backoff (or Retry-After), inside a task without blocking the others.
-- Inside an image copy the task context carries the image's retry budget (isync.retry),
-- so a stall or a long Retry-After fails the image once, not once per request; and the
-- retry hook of the plan whose run made the request (ctx.on_retry).
local function call_reg(self, op, args, stall_timeout)
  local ctx = sched.context()
  local r1, err, code, info = retry.call(self.retry, sched.sleep, function(err, code, delay, attempt)
    self.stats.retries = self.stats.retries + 1
    if ctx and ctx.on_retry then ctx.on_retry(self, op, err, code, delay, attempt) end
    if M.on_retry then M.on_retry(self, op, err, code, delay, attempt) end
    if M.on_request_retry then M.on_request_retry(self, op, code) end
  end, function()
    self.stats.requests = self.stats.requests + 1
    local hook = M.on_request
    if not hook then return sched.await(core.submit(op, self.core, args)) end
    local t0 = core.monotime()
    local r = table.pack(sched.await(core.submit(op, self.core, args)))
    hook(self, op, core.monotime() - t0, r[1] ~= nil and "OK" or r[3])
    return table.unpack(r, 1, r.n)
  end, { budget = ctx and ctx.budget, name = self.name, stall_timeout = stall_timeout or self.stall_timeout,
         clock = core.monotime })
  if code == "UNAUTHORIZED" and self.looked_in and type(err) == "string" and err:find("none were found", 1, true) then
    err = err .. " (looked in: " .. (#self.looked_in > 0 and table.concat(self.looked_in, ", ") or "no file") .. ")"
  end
  if code == "TLS" and type(err) == "string" and (err:find("local issuer", 1, true) or err:find("self.signed", 1, false)) then
    err = err .. (" (its CA is not trusted: put it in ~/.config/containers/certs.d/%s/ca.crt or /etc/docker/certs.d/%s/ca.crt, or pass --ca FILE)")
      :format(self.name, self.name)
  end
  return r1, err, code, info
end

--- Checks that the registry answers and the credentials are accepted.
function Registry:ping() return call_reg(self, "ping", {}) end

--- Told of each warning, a one-line message; the default writes it to stderr. Set it to
--- route warnings elsewhere (or to false to drop them).
M.on_warning = function(msg) io.stderr:write("isync: warning: ", require("isync.log").clean(msg), "\n") end

-- Every name a registry lists passes here: names that break the name rules (they could
-- carry terminal escape sequences, or address something else in a URL) are dropped, and
-- a warning counts them without repeating them.
local function valid_names(list, valid, what, where)
  if type(list) ~= "table" then return list end
  local kept, dropped = {}, 0
  for _, n in ipairs(list) do
    if type(n) == "string" and not n:find("\0", 1, true) and valid(n) then kept[#kept + 1] = n
    else dropped = dropped + 1 end
  end
  if dropped > 0 and M.on_warning then
    M.on_warning(("%s: dropped %d %s%s that break%s the name rules"):format(where, dropped, what,
      dropped == 1 and "" or "s", dropped == 1 and "s" or ""))
  end
  return kept
end

--- All tags of a repository, following Link pagination. opts: page_size, missing_ok (a
--- repository that does not exist gives {} instead of nil, message, "NAME_UNKNOWN": for a
--- destination that a sync may be about to create).
function Registry:tags(repo, opts)
  check.options(opts, { "page_size", "missing_ok" }, "registry:tags options")
  opts = opts or {}
  local list, err, code, info = call_reg(self, "tags", { repo = self:repo(repo), page_size = opts.page_size })
  if not list and code == "NAME_UNKNOWN" and opts.missing_ok then return {} end
  if not list then return list, err, code, info end
  return valid_names(list, core.tag_valid, "tag", self.name .. "/" .. self:repo(repo))
end

--- Every repository name the registry lists (GET /v2/_catalog, paged). Many public
--- registries disable it: then nil, message, code.
function Registry:catalog(opts)
  check.options(opts, { "page_size" }, "registry:catalog options")
  local list, err, code, info = call_reg(self, "catalog", { page_size = opts and opts.page_size })
  if not list then return list, err, code, info end
  return valid_names(list, core.repo_valid, "repository name", self.name .. " catalog")
end

--- GET a manifest by tag or digest: {bytes, media_type, digest, size}.
function Registry:manifest(repo, ref)
  return call_reg(self, "manifest_get", { repo = self:repo(repo), ref = ref })
end

--- HEAD a manifest: {digest, media_type, size}, or false when it is not there.
function Registry:head(repo, ref)
  return call_reg(self, "manifest_head", { repo = self:repo(repo), ref = ref })
end

--- PUT manifest bytes exactly as given under a tag or digest; returns the digest.
function Registry:put_manifest(repo, ref, bytes, media_type)
  if type(bytes) == "table" then bytes, media_type = bytes.bytes, media_type or bytes.media_type end
  if type(bytes) ~= "string" or type(media_type) ~= "string" then
    check.fail("registry:put_manifest: bytes and media_type (strings) are needed")
  end
  return call_reg(self, "manifest_put", { repo = self:repo(repo), ref = ref, data = bytes, media_type = media_type })
end

--- DELETE a manifest by digest (a mirror's prune): true, or nil, message, code
--- (UNSUPPORTED where the registry does not allow deletes).
function Registry:delete_manifest(repo, digest)
  return call_reg(self, "manifest_delete", { repo = self:repo(repo), digest = digest })
end

--- HEAD a blob: its size, or false when absent.
function Registry:blob_exists(repo, digest)
  return call_reg(self, "blob_head", { repo = self:repo(repo), digest = digest })
end

--- Cross-repository mount within this registry: true when mounted, false when the
--- registry declined (then upload instead).
function Registry:mount(repo, digest, from_repo)
  return call_reg(self, "blob_mount", { repo = self:repo(repo), digest = digest, from = self:repo(from_repo) })
end

--- GET a small blob into memory (a config), verified against its digest.
function Registry:blob(repo, digest, opts)
  check.options(opts, { "max_size" }, "registry:blob options")
  return call_reg(self, "blob_get", { repo = self:repo(repo), digest = digest, max_size = opts and opts.max_size })
end

--- The OCI referrers of a manifest (signatures, SBOMs, attestations): the index's bytes
--- (its pages joined), or false when the registry has no referrers API (then look for the
--- "sha256-<hex>" tag).
function Registry:referrers(repo, digest)
  local r, err, code, info = call_reg(self, "referrers", { repo = self:repo(repo), digest = digest })
  if type(r) == "table" then return require("isync.referrers").join(r, self.name .. "/" .. repo .. " referrers of " .. digest) end
  return r, err, code, info
end

--- Upload bytes as a blob; returns its digest.
function Registry:put_blob(repo, bytes)
  return call_reg(self, "blob_put", { repo = self:repo(repo), data = bytes })
end

--- Streams one blob from src_reg/src_repo into this registry's repo; returns bytes moved.
--- opts: size (expected; else taken from the source), chunk_size (PATCH chunks; 0 =
--- one PUT), buffer_size (ring, default 128 KiB).
function Registry:copy_blob_from(src_reg, src_repo, digest, repo, opts)
  opts = check.options(opts, { "size", "chunk_size", "buffer_size" }, "registry:copy_blob_from options")
  return call_reg(self, "blob_copy", {
    repo = self:repo(repo), digest = digest, source = src_reg.core, from = src_reg:repo(src_repo),
    size = opts.size, chunk_size = opts.chunk_size, buffer_size = opts.buffer_size,
  }, math.max(self.stall_timeout, src_reg.stall_timeout or 60))   -- either side may stall
end

function Registry:info()
  self._info = self._info or self.core:info()
  return self._info
end

--- A reference for plans: registry:ref("app/web", "v1") (a tag or a digest).
function Registry:ref(repo, ref)
  return { registry = self, repo = self:repo(repo), ref = ref }
end

M.Registry = Registry

--- A sync plan over (source, destination) pairs; see isync.plan.
function M.plan(opts) return require("isync.plan").new(opts) end
local function lazy(name) return setmetatable({}, { __index = function(_, k) return require(name)[k] end }) end
M.semver = lazy("isync.semver")
M.rename = lazy("isync.rename")
M.policy = lazy("isync.policy")
M.args = function(argv, spec, usage) return require("isync.args").parse(argv, spec, usage) end
M.connect = function(o) return require("isync.args").registries(o) end
M.mirror = function(spec) return require("isync.policy").mirror(spec) end
M.serve = function(spec) return require("isync.serve").serve(spec) end
M.regex = lazy("isync.regex")
M.referrers = lazy("isync.referrers")
M.queue = lazy("isync.queue")
M.log = function(opts) return require("isync.log").new(opts) end
M.ledger = function(path) return require("isync.ledger").open(path) end
M.platforms = function(os_list, arch_list) return require("isync.platform").filter(os_list, arch_list) end

--- Copies one image (tag or digest), every platform, digests preserved. See isync.copy.
function M.copy(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  return require("isync.copy").image(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
end

return M
