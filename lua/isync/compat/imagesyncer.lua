-- isync.compat.imagesyncer: image-syncer's --auth / --images / --config files and flags,
-- as a policy on the isync engine. An image-syncer user switches by changing the binary
-- name; what differs is on purpose (see README: "image-syncer mode").
local isync = require "isync"
local core = require "isync.core"
local regex = require "isync.regex"
local json = require "isync.json"

local M = {}

M.USAGE = [[
usage: isync --images FILE [--auth FILE] [flags]     (or --config FILE, the older combined file)

image-syncer flags:
  --auth FILE                 registry credentials (YAML or JSON, by extension)
  --images FILE               source: destination rules (YAML or JSON)
  --config FILE               legacy file with `auth` and `images` sections
  -p, --proc N                images synced at once (5)
  -r, --retries N             extra rounds for images that failed (2)
  --os OS[:VERSION]           platform filter, repeatable or comma-separated
  --arch ARCH[:VARIANT]       platform filter, repeatable or comma-separated
  --force                     push even when the destination already matches
  --log FILE                  write the log there (truncated) instead of stderr
  --output-success-images F   write the images that synced, in images-file form
  --output-images-format F    yaml (default) or json, for the output files
isync's own:
  --output-failed-images F    write the images that failed, in images-file form (feed it back)
  --report FILE               a JSON report of every image
  --ledger FILE | --no-ledger the blob ledger ($XDG_STATE_HOME/isync/ledger)
  --trust-ledger              a tag whose source digest is what the ledger last recorded at
                              the destination is skipped without asking the destination
                              (one HEAD per unchanged tag instead of two)
  --dry-run                   list what would be copied; write nothing
  --referrers                 also copy each image's referrers (signatures, SBOMs, attestations)
  --max-connections N         blob transfers per registry (8)
  --stall-timeout N           seconds without a byte before a request fails (60); an image
                              that stalls fails then, without further retries or rounds
  --max-retry-after N         a registry asking to wait longer (429 Retry-After) fails the
                              image at once (300 seconds)
  -q, --quiet                 only failures and the summary (no per-image lines, no progress)
  -v, --verbose               also each retry and its reason
  --queue redis://HOST:PORT/DB  add the image pairs to a work queue instead of syncing them:
                              `isync worker` processes consume it (README "Many machines")
]]

local function fail(msg) error(msg, 0) end

-- ---------------------------------------------------------------- flags

local FLAGS = {
  ["--auth"] = "auth", ["--images"] = "images", ["--config"] = "config", ["--log"] = "log",
  ["--proc"] = "proc", ["-p"] = "proc", ["--retries"] = "retries", ["-r"] = "retries",
  ["--os"] = "os", ["--arch"] = "arch", ["--output-success-images"] = "output_success",
  ["--output-images-format"] = "output_format", ["--output-failed-images"] = "output_failed",
  ["--report"] = "report", ["--ledger"] = "ledger", ["--max-connections"] = "max_connections",
  ["--stall-timeout"] = "stall_timeout", ["--max-retry-after"] = "max_retry_after", ["--queue"] = "queue",
}
local BOOL = { ["--force"] = "force", ["--dry-run"] = "dry_run", ["--no-ledger"] = "no_ledger", ["--referrers"] = "referrers",
               ["--trust-ledger"] = "trust_ledger",
               ["--quiet"] = "quiet", ["-q"] = "quiet", ["--verbose"] = "verbose", ["-v"] = "verbose",
               ["-h"] = "help", ["--help"] = "help" }
local REPEAT = { os = true, arch = true }

function M.parse_args(argv)
  local o = { os = {}, arch = {} }
  local i = 1
  while argv[i] do
    local a = argv[i]
    local name, inline = a:match("^(%-%-?[%w%-]+)=(.*)$")
    name = name or a
    if BOOL[name] and not inline then
      o[BOOL[name]] = true
    elseif FLAGS[name] then
      local v = inline
      if not v then i = i + 1; v = argv[i] end
      if v == nil then fail(name .. " needs a value") end
      local key = FLAGS[name]
      if REPEAT[key] then o[key][#o[key] + 1] = v else o[key] = v end
    else
      fail("unknown flag " .. a .. " (see isync --help)")
    end
    i = i + 1
  end
  local zero_ok = { retries = true, max_retry_after = true }
  for _, k in ipairs { "proc", "retries", "max_connections", "stall_timeout", "max_retry_after" } do
    if o[k] ~= nil then
      local n = math.tointeger(tonumber(o[k]))
      if not n or n < (zero_ok[k] and 0 or 1) then fail(("--%s needs a %s integer, not %q"):format(
        k:gsub("_", "-"), zero_ok[k] and "non-negative" or "positive", o[k])) end
      o[k] = n
    end
  end
  if o.output_format and o.output_format ~= "yaml" and o.output_format ~= "json" then
    fail("--output-images-format must be yaml or json, not " .. o.output_format)
  end
  return o
end

-- ---------------------------------------------------------------- files

local function read_file(path, what)
  local f, err = io.open(path, "rb")
  if not f then fail(("cannot read %s file %s: %s"):format(what, path, err:gsub("^[^:]*: ", ""))) end
  local s = f:read("a")
  f:close()
  return s
end

--- Loads a YAML or JSON file (by extension) into a table.
function M.load_file(path, what)
  local text = read_file(path, what)
  local doc, err
  if path:match("%.ya?ml$") then
    local lyaml = require "lyaml"
    local ok, v = pcall(lyaml.load, text)
    if ok then doc = v
    else
      -- lyaml says "LINE:COL: problem": lead with the file, as compilers do, so editors jump there
      local pos, problem = tostring(v):match("^(%d+:%d+): (.*)$")
      if pos then fail(("%s:%s: %s (%s file is not valid YAML)"):format(path, pos, (problem:gsub("\n", " ")), what)) end
      err = tostring(v)
    end
  elseif path:match("%.json$") then
    doc, err = json.decode(text)
  else
    fail(("%s file %s: the name must end in .yaml, .yml or .json"):format(what, path))
  end
  if doc == nil and err == nil then doc = {} end   -- an empty YAML file
  if doc == nil then fail(("%s file %s is not valid %s: %s"):format(what, path,
    path:match("%.json$") and "JSON" or "YAML", (err:gsub("\n", " ")))) end
  if type(doc) ~= "table" or getmetatable(doc) == json.array_mt or (doc[1] ~= nil) then
    fail(("%s file %s must hold a map of entries"):format(what, path))
  end
  return doc
end

--- $VAR and ${VAR} from the environment (unset variables become empty, as Go's os.ExpandEnv).
function M.expand(s)
  s = s:gsub("%${([%w_]+)}", function(v) return os.getenv(v) or "" end)
  return (s:gsub("%$([%a_][%w_]*)", function(v) return os.getenv(v) or "" end))
end

-- ---------------------------------------------------------------- names

--- Splits "[registry/]path" by the reference rules of util/ref.c (Docker Hub's names are
--- docker.io, whose one-word names get library/): registry, repo; nil and a reason when
--- it names no repository.
function M.split_repo(name)
  local r, err = isync.parse_ref(name)
  if r and (r.tag or r.digest) then r, err = nil, "a tag or digest where a repository name belongs" end
  if not r then return nil, err end
  return r.registry, r.repo
end

--- Parses an images-file source or destination into
--- {registry, repo, tags = {...} | nil, digest = ..., regex = compiled | nil}.
function M.parse_image(s, what)
  s = s:gsub("^%s+", ""):gsub("%s+$", "")
  if s == "" then fail(what .. " is empty") end
  local out = {}
  local name
  local rpos = s:find(":/", 1, true)
  if rpos and s:sub(-1) == "/" and #s > rpos + 1 then
    name = s:sub(1, rpos - 1)
    local pattern = s:sub(rpos + 2, -2)
    local re, err = regex.compile(pattern)
    if not re then fail(what .. " " .. s .. ": " .. err) end
    out.regex, out.pattern = re, pattern
  elseif s:find("@", 1, true) then
    local digest
    name, digest = s:match("^(.-)@(.+)$")
    if not isync.parse_ref("x@" .. digest) then fail(what .. " " .. s .. ": invalid digest " .. digest) end
    out.digest = digest
  else
    local slash = s:match(".*()/") or 0
    local colon = s:find(":[^:]*$")
    if colon and colon > slash then
      name = s:sub(1, colon - 1)
      out.tags = {}
      for t in s:sub(colon + 1):gmatch("[^,]+") do
        t = t:gsub("^%s+", ""):gsub("%s+$", "")
        if not isync.parse_ref("x:" .. t) then fail(what .. " " .. s .. ": invalid tag '" .. t .. "'") end
        out.tags[#out.tags + 1] = t
      end
      if #out.tags == 0 then fail(what .. " " .. s .. ": empty tag list") end
    else
      name = s
    end
  end
  out.registry, out.repo = M.split_repo(name)
  if not out.registry then fail(what .. " " .. s .. ": invalid repository name '" .. name .. "'") end
  out.text = s
  return out
end

-- ---------------------------------------------------------------- auth

--- The auth entry for registry/repo: the longest key equal to it or a prefix before a '/'.
function M.auth_for(auth, registry, repo)
  local full = registry .. "/" .. repo
  local best, best_key
  for key, v in pairs(auth) do
    local k = key:gsub("^https?://", ""):gsub("/+$", "")
    local kr, kp = k:match("^([^/]+)(.*)$")
    if kr then k = core.canonical_name(kr) .. kp end   -- any of Docker Hub's names is docker.io
    if (full == k or full:sub(1, #k + 1) == k .. "/") and (not best_key or #k > #best_key) then
      best, best_key = v, k
    end
  end
  return best, best_key
end

-- ---------------------------------------------------------------- main

-- Opens the registry for an auth entry, once: concurrent first uses (the tag listings run
-- at once) share one opening, so each registry is probed and pinged once.
-- (o.plain_http, o.insecure, o.ca: isync serve's connection flags, for every registry)
function M.registry_opener(auth, o)
  local opening = {}
  local function open(registry, entry)
    local opts = { max_connections = o.max_connections, stall_timeout = o.stall_timeout,
                   retry = o.max_retry_after and { max_retry_after = o.max_retry_after },
                   plain_http = o.plain_http or nil, skip_verify = o.insecure or nil, ca_files = o.ca and { o.ca } or nil }
    if type(entry) == "table" then
      local user = type(entry.username) == "string" and M.expand(entry.username) or ""
      local pass = type(entry.password) == "string" and M.expand(entry.password) or ""
      if user ~= "" and pass ~= "" then
        opts.username, opts.password, opts.docker_config = user, pass, false
      end
      if entry.insecure == true then opts.skip_verify = true end
      -- isync's extension: this registry's CA, and a client certificate with its key
      if entry.ca then opts.ca_files = { M.expand(entry.ca) } end
      if entry.cert then opts.cert_file, opts.key_file = M.expand(entry.cert), M.expand(entry.key) end
    end
    -- insecure: HTTPS without verification, or plain HTTP when HTTPS does not answer
    -- (isync.registry's fallback, as for loopback hosts)
    local reg = isync.registry(registry, opts)
    return reg
  end
  return function(registry, repo)
    local entry, key = M.auth_for(auth, registry, repo)
    key = key or registry
    opening[key] = opening[key] or isync.spawn(open, registry, entry)
    return (isync.wait(opening[key]))
  end
end

--- Expands rules into plan copies. Returns nothing; failures of listing become plan:fail.
function M.build_plan(plan, rules, open, o)
  -- list the tags each repository needs, all at once
  local need = {}
  for _, r in ipairs(rules) do
    if not r.src.tags and not r.src.digest then
      local k = r.src.registry .. "/" .. r.src.repo
      need[k] = need[k] or { registry = r.src.registry, repo = r.src.repo }
    end
  end
  local listing = {}
  for k, v in pairs(need) do listing[#listing + 1] = v; v.key = k end
  table.sort(listing, function(a, b) return a.key < b.key end)
  isync.run(function()
    isync.map(listing, math.max(o.proc or 5, 4), function(v)
      local tags, err, code = open(v.registry, v.repo):tags(v.repo)
      if tags and #tags == 0 then
        tags, err, code = nil, v.key .. ": no tags (the repository is empty or does not exist)", "NAME_UNKNOWN"
      end
      v.tags, v.err, v.code = tags, err, code
      if tags then table.sort(tags) end
    end)
  end)
  for _, r in ipairs(rules) do
    local s, d = r.src, r.dst
    local src_reg, dst_reg = open(s.registry, s.repo), open(d.registry, d.repo)
    local tags
    if s.digest then
      tags = { s.digest }
    elseif s.tags then
      tags = s.tags
    else
      local v = need[s.registry .. "/" .. s.repo]
      if not v.tags then
        plan:fail(s.text, d.text, v.err, v.code)
        goto continue
      end
      tags = {}
      for _, t in ipairs(v.tags) do
        if not s.regex or s.regex:match(t) then tags[#tags + 1] = t end
      end
      if #tags == 0 then
        plan:fail(s.text, d.text, ("no tag of %s/%s matches /%s/"):format(s.registry, s.repo, s.pattern), "NOT_FOUND")
        goto continue
      end
    end
    if d.tags and #d.tags ~= #tags then
      plan:fail(s.text, d.text, ("%d destination tags for %d source tags"):format(#d.tags, #tags), "INVALID_RULE")
      goto continue
    end
    if d.digest and not (s.digest and s.digest == d.digest) then
      plan:fail(s.text, d.text, "a destination digest must equal the source digest", "INVALID_RULE")
      goto continue
    end
    for i, t in ipairs(tags) do
      local dt = d.tags and d.tags[i] or (d.digest or t)
      plan:copy(src_reg:ref(s.repo, t), dst_reg:ref(d.repo, dt))
    end
    ::continue::
  end
end

-- What an auth entry may hold, and of which type: image-syncer's keys and isync's TLS
-- extension. Anything else (a misspelt `usrname:`) is an error, not silently ignored.
local AUTH_KEYS = { username = "string", password = "string", insecure = "boolean",
                    ca = "string", cert = "string", key = "string" }

--- Checks an auth map: every entry a map of known keys with values of the right type.
function M.check_auth(auth, file)
  if type(auth) ~= "table" then fail(("auth file %s: must be a map of registries"):format(file)) end
  local known = {}
  for k in pairs(AUTH_KEYS) do known[#known + 1] = k end
  table.sort(known)
  for name, entry in pairs(auth) do
    local where = ("auth file %s: entry %q"):format(file, tostring(name))
    if type(name) ~= "string" then fail(where .. ": the key must be a registry name") end
    if type(entry) ~= "table" then fail(where .. ": must be a map (" .. table.concat(known, ", ") .. ")") end
    for k, v in pairs(entry) do
      local want = AUTH_KEYS[k]
      if not want then
        fail(("%s: unknown key %q (known: %s)"):format(where, tostring(k), table.concat(known, ", ")))
      end
      if type(v) ~= want then fail(("%s: %s must be a %s"):format(where, k, want)) end
    end
    if (entry.cert == nil) ~= (entry.key == nil) then fail(where .. ": cert and key go together") end
  end
end

--- Reads the images map into rules {src, dst}, in a stable order.
function M.rules(images, file)
  local rules, keys = {}, {}
  for k in pairs(images) do
    if type(k) ~= "string" then fail(("images file %s: entry %s: the source must be a string"):format(file, tostring(k))) end
    keys[#keys + 1] = k
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = images[k]
    local where = ("images file %s: entry %q"):format(file, k)
    local src = M.parse_image(k, where .. ": source")
    local dests = {}
    if type(v) == "string" then
      dests[1] = v
    elseif type(v) == "table" then   -- a list; null or a map has no entries: "no destination"
      for i, d in ipairs(v) do
        if type(d) ~= "string" then fail(where .. ": destination " .. i .. " is not a string") end
        dests[#dests + 1] = d
      end
    end
    if #dests == 0 then fail(where .. ": no destination") end
    for _, d in ipairs(dests) do
      local dst = M.parse_image(M.expand(d), where .. ": destination")
      if dst.regex then fail(where .. ": a destination cannot be a regex") end
      rules[#rules + 1] = { src = src, dst = dst }
    end
  end
  return rules
end

--- The copies the rules make of one pushed tag (isync serve's webhooks): a list of
--- {src = ref, dst = ref}. Rules by digest are not about tags: they never match.
function M.route(rules, open, host, repo, tag)
  local out = {}
  for _, r in ipairs(rules) do
    local s, d = r.src, r.dst
    if (host == nil or host == s.registry) and repo == s.repo and not s.digest then
      local i
      if s.tags then
        for k, t in ipairs(s.tags) do if t == tag then i = k end end
      elseif not s.regex or s.regex:match(tag) then
        i = 0
      end
      local dt
      if i and d.tags then dt = i > 0 and d.tags[i] or nil   -- renamed in order: needs a listed tag
      elseif i then dt = tag end
      if dt and not d.digest then
        out[#out + 1] = { src = open(s.registry, s.repo):ref(s.repo, tag), dst = open(d.registry, d.repo):ref(d.repo, dt) }
      end
    end
  end
  return out
end

--- Reads the files named by --config, or --images and --auth: the auth map and the rules.
function M.load_config(o)
  local auth, images, images_file = {}, nil, nil
  if o.config then
    local cfg = M.load_file(o.config, "config")
    for k in pairs(cfg) do
      if k ~= "auth" and k ~= "images" then
        fail(("config file %s: unknown key %q (known: auth, images)"):format(o.config, tostring(k)))
      end
    end
    auth = cfg.auth or {}
    images, images_file = cfg.images, o.config
    if type(images) ~= "table" then fail("config file " .. o.config .. " has no images section") end
  else
    if not o.images then fail("--images FILE is needed (or --config FILE); see isync --help") end
    images, images_file = M.load_file(o.images, "images"), o.images
    if o.auth then auth = M.load_file(o.auth, "auth") end
  end
  M.check_auth(auth, o.config or o.auth)
  return auth, M.rules(images, images_file)
end

function M.main(argv)
  local o = M.parse_args(argv)
  if o.help then io.stdout:write(M.USAGE); return 0 end
  local auth, rules = M.load_config(o)
  local ledger = o.ledger          -- nil: the default ledger, as --help says
  if o.no_ledger then ledger = false end   -- (not an and/or: false must survive)
  local log = isync.log { file = o.log, level = o.quiet and "quiet" or o.verbose and "verbose" or "info" }
  local plan = isync.plan {
    concurrency = o.proc or 5, retries = o.retries or 2, force = o.force, dry_run = o.dry_run, referrers = o.referrers,
    trust_ledger = o.trust_ledger, platforms = isync.platforms(o.os, o.arch), ledger = ledger,
    report = o.report, output_failed = o.output_failed, output_success = o.output_success,
    output_format = o.output_format or "yaml", log = log, max_retry_after = o.max_retry_after,
  }
  local t0 = isync.monotime()
  local restore = require("isync.plan").log_retries(log)   -- the tag listings retry too
  M.build_plan(plan, rules, M.registry_opener(auth, o), o)
  restore()
  if o.queue then
    if o.dry_run then fail("--dry-run and --queue do not go together: a worker would copy") end
    local n, nfailed, where = require("isync.queue").enqueue(o.queue, plan, { force = o.force, referrers = o.referrers,
      retries = o.retries or 2, os = o.os, arch = o.arch, log = log })
    log:summary(("enqueued %d image%s to %s%s; run `isync worker` to sync them"):format(n, n == 1 and "" or "s", where,
      nfailed > 0 and (" (%d could not be planned: recorded failed)"):format(nfailed) or ""))
    log:close()
    return 0
  end
  local report = plan:run()
  log:summary(("Synchronization finished, %d images failed, cost %.1fs."):format(report.failed, isync.monotime() - t0))
  log:close()
  return report.failed == 0 and 0 or 1
end

return M
