-- isync.commands: the quick commands, for what people otherwise do by hand.
--   isync cp SRC DST       one image, every platform, digest preserved
--   isync ls REPO          tags (with --digests, each tag's digest)
--   isync inspect REF      media type, digest, size, platforms, referrers
--   isync worker, status   a work queue shared by many machines (isync.queue)
local isync = require "isync"
local manifest = require "isync.manifest"
local json = require "isync.json"
local report = require "isync.report"
local referrers = require "isync.referrers"
local refname = require("isync.copy").refname

local M = {}

-- Each command's flags: one table drives both the parsing and the help text, so a flag is
-- shown exactly for the commands that take it. {flag, VALUE or false, help}
local CONN = {
  { "--plain-http", false, "talk plain HTTP (loopback registries fall back to it by themselves)" },
  { "--insecure", false, "HTTPS without certificate verification, plain HTTP when HTTPS does not answer" },
  { "--ca", "FILE", "trust this CA too (also: certs.d, SSL_CERT_FILE; see README \"Trust\")" },
}
local OUTPUT = {
  { "-q", false, "quiet: no progress, no warnings", key = "quiet" },
  { "--quiet", false, "the same as -q" },
  { "-v", false, "verbose: also each retry and its reason", key = "verbose" },
  { "--verbose", false, "the same as -v" },
  { "-h", false, "this help", key = "help" },
  { "--help", false, "the same as -h" },
}

M.EXIT_CODES = [[
exit status:
  0    done
  1    failed (the message says what, where and why; the code in parentheses is stable)
  2    wrong usage (an unknown flag, a missing argument)
  130  interrupted (Ctrl-C): open uploads are cancelled
]]

local COMMANDS = {
  cp = {
    usage = "isync cp [flags] SRC DST",
    about = "Copies one image (a tag or a digest) with every platform; the destination digest\n" ..
            "equals the source's. DST without a tag keeps the source's tag (or digest).\n" ..
            "References may start with docker://.",
    flags = {
      { "--force", false, "copy even when the destination already has the digest" },
      { "--dry-run", false, "say what would be copied, copy nothing" },
      { "--referrers", false, "also copy its referrers (signatures, SBOMs, attestations)" },
      { "--json", false, "print the result as JSON" },
    },
    sides = true,
  },
  ls = {
    usage = "isync ls [flags] REPO",
    about = "Lists the tags of a repository (REGISTRY/PATH; Docker Hub when there is no registry).\n" ..
            "A repository that does not exist fails with NAME_UNKNOWN.",
    flags = {
      { "--digests", false, "also each tag's digest (one HEAD per tag)" },
      { "--json", false, "print {repository, tags: [...]} (with digests: [{tag, digest}])" },
    },
  },
  serve = {
    usage = "isync serve [flags] (--images FILE [--auth FILE] | --config FILE | POLICY.lua [ARGS...])",
    about = "Keeps a mirror in sync until stopped: a full pass at start and every --every seconds,\n" ..
            "and each tag a registry webhook reports pushed (distribution's notifications, Harbor's\n" ..
            "webhooks: POST /webhook) synced at once when the rules map it. GET /metrics (Prometheus),\n" ..
            "GET /healthz. The rules: image-syncer's files, or a Lua policy calling isync.serve{}\n" ..
            "(these flags fill in what it leaves out). The webhook secret comes from --secret-file\n" ..
            "or ISYNC_WEBHOOK_SECRET, never from the command line.",
    flags = {
      { "--images", "FILE", "image-syncer's images file (source: destination rules)" },
      { "--auth", "FILE", "image-syncer's auth file" },
      { "--config", "FILE", "image-syncer's older combined file (auth and images)" },
      { "--listen", "ADDR:PORT", "where to serve (127.0.0.1:8080; :PORT for every address)" },
      { "--secret-file", "FILE", "the webhooks' shared secret (else $ISYNC_WEBHOOK_SECRET)" },
      { "--every", "SECONDS", "a full pass this often (3600; 0: only the one at start)" },
      { "-p", "N", "images synced at once (5)", key = "proc" },
      { "--proc", "N", "the same as -p" },
      { "-r", "N", "extra rounds for images that failed with a transient error (2)", key = "retries" },
      { "--retries", "N", "the same as -r" },
      { "--ledger", "FILE", "the blob ledger ($XDG_STATE_HOME/isync/ledger)" },
      { "--no-ledger", false, "no ledger" },
      { "--report", "FILE", "a JSON report, rewritten after every full pass" },
      { "--max-connections", "N", "blob transfers per registry (8)" },
      { "--referrers", false, "also copy each image's referrers" },
      { "--log", "FILE", "timestamped log lines there instead of stderr" },
    },
    rest = true,   -- POLICY.lua and what follows it are the policy's
  },
  inspect = {
    usage = "isync inspect [flags] REF",
    about = "Shows an image: media type, digest, size, platforms, layers, config and referrers\n" ..
            "(signatures, SBOMs) where the registry offers them.",
    flags = { { "--json", false, "print it as JSON" } },
  },
  worker = {
    usage = "isync worker [flags]",
    about = "Syncs the image pairs of a work queue (`isync --images ... --queue URL` adds them) until\n" ..
            "every pair has a result; run any number, on any machines. Credentials come from --auth\n" ..
            "and the usual files, never from the queue (README \"Many machines\").",
    flags = {
      { "--queue", "URL", "redis://[:PASSWORD@]HOST[:PORT][/DB] (default: $ISYNC_QUEUE; put a password there)" },
      { "--auth", "FILE", "image-syncer auth file: credentials, insecure, ca per registry" },
      { "-p", "N", "images synced at once (5)", key = "proc" },
      { "--proc", "N", "the same as -p" },
      { "--ledger", "FILE", "a blob ledger of this worker (none by default: Redis shares what is known)" },
      { "--log", "FILE", "timestamped log lines there instead of stderr" },
      { "--claim-idle", "SECONDS", "take over the images of a worker silent this long (30)" },
      { "--lease-ttl", "SECONDS", "a blob lease lasts this long unless renewed (15)" },
      { "--max-connections", "N", "blob transfers per registry (8)" },
      { "--stall-timeout", "SECONDS", "seconds without a byte before a request fails (60)" },
      { "--forever", false, "keep waiting for new pairs once the queue is done" },
    },
    conn = false,
  },
  status = {
    usage = "isync status [flags]",
    about = "Shows a work queue's progress: pending, running, done, failed, bytes, live workers.\n" ..
            "Exit status 1 when images failed, 3 while the queue is not finished.",
    flags = {
      { "--queue", "URL", "redis://[:PASSWORD@]HOST[:PORT][/DB] (default: $ISYNC_QUEUE)" },
      { "--report", "FILE", "write the JSON report of every image finished so far" },
      { "--output-failed-images", "FILE", "write the failed images in images-file form (feed it back)" },
      { "--output-images-format", "FORMAT", "yaml (default) or json" },
      { "--wait", false, "wait until the queue is finished" },
      { "--json", false, "print the counts as JSON" },
    },
    conn = false,
  },
}

-- Every flag a command takes: its own, the connection flags (for cp also per side:
-- --src-ca, --dst-insecure...), and the output flags.
local function flags_of(name)
  local c, out = COMMANDS[name], {}
  for _, f in ipairs(c.flags) do out[#out + 1] = f end
  for _, f in ipairs(c.conn == false and {} or CONN) do
    out[#out + 1] = f
    if c.sides then
      for _, side in ipairs { "src", "dst" } do
        out[#out + 1] = { "--" .. side .. f[1]:sub(2), f[2], "the same for the " .. (side == "src" and "source" or "destination") .. " only" }
      end
    end
  end
  for _, f in ipairs(OUTPUT) do out[#out + 1] = f end
  return out
end

--- The help text of a command, from its flag table.
function M.help(name)
  local c = COMMANDS[name]
  local lines = { "usage: " .. c.usage, "", c.about, "", "flags:" }
  for _, f in ipairs(flags_of(name)) do
    local left = f[1] .. (f[2] and (" " .. f[2]) or "")
    lines[#lines + 1] = ("  %-22s %s"):format(left, f[3])
  end
  lines[#lines + 1] = ""
  lines[#lines + 1] = "Credentials: REGISTRY_AUTH_FILE, containers auth.json, then ~/.docker/config.json"
  lines[#lines + 1] = "(see README \"Credentials\")."
  lines[#lines + 1] = ""
  return table.concat(lines, "\n") .. M.EXIT_CODES
end

M.HELP = setmetatable({}, { __index = function(_, name) return COMMANDS[name] and M.help(name) end })

-- Parses argv by the command's flag table: --flag, --flag VALUE, --flag=VALUE, -q, -v.
-- A usage error raises {usage = message} (exit status 2).
local function parse(argv, name)
  local by = {}
  for _, f in ipairs(flags_of(name)) do by[f[1]] = f end
  local o, pos = {}, {}
  local i = 1
  while argv[i] do
    local a = argv[i]
    local flag, inline = a:match("^(%-%-[%w%-]+)=(.*)$")
    flag = flag or a
    local f = by[flag]
    if f then
      local key = f.key or flag:gsub("^%-+", ""):gsub("%-", "_")
      if f[2] then
        local v = inline
        if v == nil then i = i + 1; v = argv[i] end
        if v == nil or v == "" then error({ usage = flag .. " needs a value (" .. f[2] .. ")" }) end
        o[key] = v
      elseif inline then
        error({ usage = flag .. " takes no value" })
      else
        o[key] = true
      end
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      error({ usage = ("unknown flag %s for isync %s (see isync %s --help)"):format(flag, name, name) })
    elseif COMMANDS[name].rest then
      for k = i, #argv do pos[#pos + 1] = argv[k] end
      break
    else
      pos[#pos + 1] = a
    end
    i = i + 1
  end
  return o, pos
end

-- Runs a command: usage errors print one line and exit 2; -q/-v set the log level and
-- what retries and warnings show.
local function command(name, fn)
  return function(argv)
    local ok, o, pos = pcall(parse, argv, name)
    if not ok then
      if type(o) == "table" and o.usage then io.stderr:write("isync: ", o.usage, "\n"); return 2 end
      error(o, 0)
    end
    if o.help then io.stdout:write(M.help(name)); return 0 end
    local log = isync.log { level = o.quiet and "quiet" or o.verbose and "verbose" or "info" }
    if o.quiet then isync.on_warning = false end
    local restore = require("isync.plan").log_retries(log)
    local rc = table.pack(pcall(fn, o, pos, log))
    restore()
    log:close()
    if not rc[1] then error(rc[2], 0) end
    return rc[2]
  end
end

local function open(o, side, registry)
  local pre = side and (side .. "_") or ""
  return isync.registry(registry, {
    plain_http = o.plain_http or o[pre .. "plain_http"],
    skip_verify = o.insecure or o[pre .. "insecure"],
    ca_file = o[pre .. "ca"] or o.ca,
  })
end

-- docker:// is how skopeo names a registry reference: the same thing here.
local function ref_of(text, what)
  local r, err = isync.parse_ref((text:gsub("^docker://", "")))
  if not r then error(what .. ": " .. err, 0) end
  return r
end

-- While fn runs: on a terminal, a live line with the bytes moved and the rate.
local function with_progress(log, quiet, fn)
  if not log.tty or quiet then return fn() end
  return isync.run(function()
    local t0, up0, done = isync.monotime(), require("isync.core").bytes_uploaded(), false
    isync.spawn(function()
      while not done do
        isync.sleep(0.25)
        if done then break end
        local up, dt = require("isync.core").bytes_uploaded() - up0, isync.monotime() - t0
        log:set_status(("isync: %s moved, %s/s"):format(report.human(up), report.human(dt > 0 and up / dt or 0)))
      end
    end)
    local r = table.pack(fn())
    done = true
    log:clear_status()
    return table.unpack(r, 1, r.n)
  end)
end

M.cp = command("cp", function(o, pos, log)
  if #pos ~= 2 then io.stderr:write(M.help("cp")); return 2 end
  local s, d = ref_of(pos[1], "source"), ref_of(pos[2], "destination")
  local sref = s.digest or s.tag or "latest"
  local dref = d.digest or d.tag or sref
  if d.digest and d.digest ~= s.digest then error("destination digest must equal the source's", 0) end
  local src, dst = open(o, "src", s.registry), open(o, "dst", d.registry)
  local res, err, code = with_progress(log, o.quiet, function()
    return isync.copy(src, s.repo, sref, dst, d.repo, dref, { force = o.force, dry_run = o.dry_run, referrers = o.referrers })
  end)
  if not res then error(("%s (%s)"):format(err, code), 0) end
  local st = res.stats
  local from, to = refname(s.registry, s.repo, sref), refname(d.registry, d.repo, dref)
  if o.json then
    print(json.encode({ status = res.status, source = from, destination = to, digest = res.digest,
      blobs_copied = st.blobs_copied, blobs_mounted = st.blobs_mounted, blobs_present = st.blobs_skipped,
      bytes = st.bytes, referrers_copied = o.referrers and st.referrers_copied or nil, note = res.note }, "  "))
    return 0
  end
  print(("%s %s -> %s %s (%d blobs copied, %d mounted, %d present, %s%s)%s"):format(res.status,
    from, to, res.digest, st.blobs_copied, st.blobs_mounted, st.blobs_skipped, report.human(st.bytes),
    o.referrers and (", %d referrers copied"):format(st.referrers_copied) or "", res.note and ("; " .. res.note) or ""))
  return 0
end)

-- The start of the one-argument commands: the reference and its registry, or nil and
-- the exit status of a usage error.
local function one_ref(o, pos, name, what)
  if #pos ~= 1 then io.stderr:write(M.help(name)); return nil, 2 end
  local r = ref_of(pos[1], what)
  return r, open(o, nil, r.registry)
end

M.ls = command("ls", function(o, pos)
  local r, reg = one_ref(o, pos, "ls", "repository")
  if not r then return reg end
  local tags, err, code = reg:tags(r.repo)
  if not tags then error(("%s (%s)"):format(err, code), 0) end
  table.sort(tags)
  local heads = {}
  if o.digests then
    heads = isync.run(function()
      return isync.map(tags, 8, function(t) return reg:head(r.repo, t) or false end)
    end)
  end
  if o.json then
    local list = json.array()
    for i, t in ipairs(tags) do list[i] = o.digests and { tag = t, digest = heads[i] and heads[i].digest or nil } or t end
    print(json.encode({ repository = r.registry .. "/" .. r.repo, tags = list }, "  "))
    return 0
  end
  for i, t in ipairs(tags) do
    print(o.digests and ("%s\t%s"):format(t, heads[i] and heads[i].digest or "?") or t)
  end
  return 0
end)

local function describe(reg, repo, m)
  local doc = manifest.decode(m.bytes) or {}
  local kind = manifest.kind(m.media_type, doc)
  local info = { reference = nil, media_type = m.media_type, digest = m.digest, size = m.size, kind = kind,
                 artifact_type = doc.artifactType, annotations = doc.annotations }
  if kind == "index" then
    info.manifests = json.array()
    for _, c in ipairs(manifest.children(doc) or {}) do
      info.manifests[#info.manifests + 1] = { digest = c.digest, size = c.size, media_type = c.media_type,
                                              platform = manifest.platform_string(c.platform) or "(none)" }
    end
  elseif kind == "image" then
    local blobs = manifest.blobs(doc) or {}
    local total = 0
    for i, b in ipairs(blobs) do if i > 1 or not doc.config then total = total + (b.size or 0) end end
    info.layers = #blobs - (doc.config and 1 or 0)
    info.layers_size = total
    if type(doc.config) == "table" and type(doc.config.digest) == "string" then
      info.config = { media_type = doc.config.mediaType, digest = doc.config.digest, size = doc.config.size }
      if doc.config.mediaType == "application/vnd.oci.image.config.v1+json"
        or doc.config.mediaType == "application/vnd.docker.container.image.v1+json" then
        local cfg = reg:blob(repo, doc.config.digest, { max_size = 4 * 1024 * 1024 })
        local c = cfg and json.decode(cfg)
        if type(c) == "table" then
          info.platform = (c.os or "?") .. "/" .. (c.architecture or "?") .. (c.variant and ("/" .. c.variant) or "")
          info.created = c.created
        end
      end
    end
  end
  -- referrers: the API where the registry has it, else the "sha256-<hex>" tag schema
  local found, via = referrers.list(reg, repo, m.digest)
  local list = json.array()
  for _, d in ipairs(found or {}) do
    list[#list + 1] = { digest = d.digest, artifact_type = d.artifactType, media_type = d.mediaType, size = d.size }
  end
  local tag = referrers.tag(m.digest)
  info.referrers_via = not found and ("unknown: " .. via) or via == "api" and "referrers API" or via == "tag" and ("tag " .. tag)
    or ("none (no referrers API, no " .. tag .. " tag)")
  info.referrers = list
  return info
end

M.inspect = command("inspect", function(o, pos)
  local r, reg = one_ref(o, pos, "inspect", "reference")
  if not r then return reg end
  local ref = r.digest or r.tag or "latest"
  local m, err, code = reg:manifest(r.repo, ref)
  if not m then error(("%s (%s)"):format(err, code), 0) end
  local info = isync.run(describe, reg, r.repo, m)
  info.reference = refname(r.registry, r.repo, ref)
  if o.json then print(json.encode(info, "  ")); return 0 end
  local print = function(s) io.stdout:write(require("isync.log").clean(s), "\n") end   -- fields come from the registry
  print(("reference:   %s"):format(info.reference))
  print(("media type:  %s"):format(info.media_type))
  print(("digest:      %s"):format(info.digest))
  print(("size:        %d"):format(info.size))
  if info.artifact_type then print(("artifact:    %s"):format(info.artifact_type)) end
  if info.manifests then
    print(("platforms:   %d"):format(#info.manifests))
    for _, c in ipairs(info.manifests) do print(("  %-20s %s %d"):format(c.platform, c.digest, c.size or 0)) end
  end
  if info.platform then print(("platform:    %s"):format(info.platform)) end
  if info.created then print(("created:     %s"):format(info.created)) end
  if info.layers then print(("layers:      %d (%s)"):format(info.layers, report.human(info.layers_size))) end
  if info.config then print(("config:      %s %s"):format(info.config.media_type or "?", info.config.digest)) end
  print(("referrers:   %d via %s"):format(#info.referrers, info.referrers_via))
  for _, d in ipairs(info.referrers) do print(("  %s %s"):format(d.digest, d.artifact_type or d.media_type or "")) end
  return 0
end)

-- ---------------------------------------------------------------- serve

local function read_secret(o)
  if o.secret_file then
    local f, err = io.open(o.secret_file, "rb")
    if not f then error("cannot read the secret file: " .. err, 0) end
    local text = f:read("a")
    f:close()
    local secret = text:gsub("[\r\n]+$", "")
    if secret == "" then error("the secret file " .. o.secret_file .. " is empty", 0) end
    return secret
  end
  local env = os.getenv("ISYNC_WEBHOOK_SECRET")
  if env and env ~= "" then return env end
  error("isync serve needs a webhook secret: --secret-file FILE or ISYNC_WEBHOOK_SECRET", 0)
end

local function int_flag(o, k, min)
  if o[k] == nil then return nil end
  local n = math.tointeger(tonumber(o[k]))
  if not n or n < min then error({ usage = ("--%s needs an integer >= %d, not %q"):format(k:gsub("_", "-"), min, o[k]) }) end
  return n
end

M.serve = command("serve", function(o, pos, log)
  local ok, err = pcall(function()
    for k, min in pairs { every = 0, proc = 1, retries = 0, max_connections = 1 } do o[k] = int_flag(o, k, min) end
  end)
  if not ok then
    if type(err) == "table" then io.stderr:write("isync: ", err.usage, "\n"); return 2 end
    error(err, 0)
  end
  local files = o.images or o.auth or o.config
  if (files and #pos > 0) or (not files and #pos == 0) or (o.auth and not o.images) then
    io.stderr:write(M.help("serve")); return 2
  end
  if o.log then log = isync.log { file = o.log, level = o.quiet and "quiet" or o.verbose and "verbose" or "info" } end
  local serve = require "isync.serve"
  local ledger = o.ledger
  if o.no_ledger then ledger = false end
  local plan = { concurrency = o.proc, retries = o.retries, ledger = ledger, report = o.report, referrers = o.referrers }
  local every = o.every or 3600
  if #pos > 0 then   -- a Lua policy: it calls isync.serve{}, these are its defaults
    local secret = read_secret(o)
    serve.defaults = { listen = o.listen, secret = secret, every = every, log = log, plan = plan }
    local argv = { [0] = "isync" }
    for _, a in ipairs(pos) do argv[#argv + 1] = a end
    return require("isync.cli").run_script(argv, 1)
  end
  local compat = require "isync.compat.imagesyncer"
  local auth, rules = compat.load_config(o)
  local secret = read_secret(o)
  local open = compat.registry_opener(auth, o)
  local cfg = { proc = o.proc }
  return serve.serve {
    listen = o.listen, secret = secret, every = every, log = log, plan = plan,
    pass = function(popts)
      local p = isync.plan(popts)
      compat.build_plan(p, rules, open, cfg)
      return p:run()
    end,
    route = function(host, repo, tag) return compat.route(rules, open, host, repo, tag) end,
  } and 0 or 1
end)

-- The queue's address: the flag, else $ISYNC_QUEUE (where a password may go: not in argv).
local function queue_url(o)
  local url = o.queue or os.getenv("ISYNC_QUEUE")
  if not url or url == "" then error({ usage = "--queue URL is needed (or set ISYNC_QUEUE)" }) end
  return url
end

local function number(o, key, flag, min)
  if o[key] == nil then return nil end
  local n = tonumber(o[key])
  if not n or n < min then error({ usage = ("%s needs a number >= %s, not %q"):format(flag, min, o[key]) }) end
  return n
end

-- Usage errors raised inside a command body exit 2 like the parser's.
local function usage_errors(fn)
  return function(o, pos, log)
    local r = table.pack(pcall(fn, o, pos, log))
    if not r[1] and type(r[2]) == "table" and r[2].usage then io.stderr:write("isync: ", r[2].usage, "\n"); return 2 end
    if not r[1] then error(r[2], 0) end
    return table.unpack(r, 2, r.n)
  end
end

M.worker = command("worker", usage_errors(function(o, pos, log)
  if #pos > 0 then error({ usage = "isync worker takes no arguments (see isync worker --help)" }) end
  local url = queue_url(o)
  local proc = number(o, "proc", "--proc", 1)
  local opts = { max_connections = number(o, "max_connections", "--max-connections", 1),
                 stall_timeout = number(o, "stall_timeout", "--stall-timeout", 1) }
  local claim_idle, lease_ttl = number(o, "claim_idle", "--claim-idle", 0.1), number(o, "lease_ttl", "--lease-ttl", 0.1)
  local compat = require("isync.compat.imagesyncer")
  local auth = o.auth and compat.load_file(o.auth, "auth") or {}
  compat.check_auth(auth, o.auth)
  if o.log then
    log:close()
    log = isync.log { file = o.log, level = o.quiet and "quiet" or o.verbose and "verbose" or "info" }
  end
  local ledger
  if o.ledger then ledger = assert(isync.ledger(o.ledger)) end
  local totals = require("isync.queue").worker { url = url, open = compat.registry_opener(auth, opts), log = log,
    proc = proc and math.floor(proc), ledger = ledger, claim_idle = claim_idle, lease_ttl = lease_ttl, forever = o.forever }
  if ledger then ledger:close() end
  log:summary(("worker done: %d images (%d failed), %s moved"):format(totals.done, totals.failed, report.human(totals.bytes)))
  if o.log then log:close() end
  return 0
end))

M.status = command("status", usage_errors(function(o, pos)
  if #pos > 0 then error({ usage = "isync status takes no arguments (see isync status --help)" }) end
  local format = o.output_images_format or "yaml"
  if format ~= "yaml" and format ~= "json" then error({ usage = "--output-images-format must be yaml or json" }) end
  local queue = require("isync.queue")
  local st = queue.status { url = queue_url(o) }
  while o.wait and not st.finished do
    isync.sleep(1)
    st = queue.status { url = queue_url(o) }
  end
  if o.report then assert(st.report:write_json(o.report)) end
  if o.output_failed_images then assert(st.report:write_images(o.output_failed_images, { failed = true }, format)) end
  if o.json then
    print(json.encode({ queue = st.name, total = st.total, pending = st.pending, running = st.running, done = st.done,
      failed = st.failed, bytes = st.bytes, workers = st.workers, finished = st.finished }, "  "))
  else
    print(("%s: %d images: %d pending, %d running, %d done, %d failed; %s moved; %d worker%s%s"):format(st.name,
      st.total, st.pending, st.running, st.done, st.failed, report.human(st.bytes), st.workers,
      st.workers == 1 and "" or "s", st.finished and "; finished" or ""))
  end
  if st.failed > 0 then return 1 end
  return st.finished and 0 or 3
end))

return M
