-- isync.copy: copy one image (a tag or a digest) between registries, every platform,
-- byte for byte: children before their index, blobs before their manifest, each
-- manifest pushed exactly as fetched so every destination digest equals the source's.
--
-- Blobs already at the destination are skipped, blobs that live in another repository
-- of the destination registry are mounted, the rest are streamed (never touching disk).
-- A blob wanted by several copies at once is transferred once. With a ledger, blobs it
-- knows are present are not asked about again, and its facts pick mount sources; when the
-- registry then says a blob is missing after all, the facts are dropped and checked for real.
-- With opts.referrers, the image's referrers (signatures, SBOMs, attestations) come along.
local core = require "isync.core"
local sched = require "isync.sched"
local manifest = require "isync.manifest"
local platform = require "isync.platform"
local referrers = require "isync.referrers"
local retry = require "isync.retry"
local argcheck = require "isync.check"

local M = {}

--- What concurrent copies share, kept by whoever runs them (a plan: one per run), so a
--- process that copies for days keeps nothing from runs that ended:
---   inflight  "base|repo|digest" -> {task moving that blob now, its budget}
---   known     destination base URL -> digest -> { repo = true }: mount sources seen
---   has_api   destination base URL -> whether it offers the referrers API
--- max_known: forget known when it holds more digests (nil: no bound).
function M.session(max_known)
  return { inflight = {}, known = {}, n_known = 0, max_known = max_known, has_api = {} }
end

-- Copies given no session share this one: consecutive isync.copy calls mount from what the
-- earlier ones saw. Its memory of blobs is bounded: when full it starts over (a hint lost
-- costs a HEAD and a copy instead of a mount, never a wrong result).
local default_session = M.session(4096)

-- Failures of the world travel as {msg, code} errors through the task tree and come out
-- of M.image as nil, msg, code. Anything else raised is a bug and propagates as is.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.msg end
local function fail(msg, code) error(setmetatable({ msg = msg, code = code or "INTERNAL" }, Failure), 0) end
local function check(v, msg, code) if v == nil then fail(msg, code) end return v end

local function base_of(reg) return reg:info().base end

local function remember(ctx, dst, repo, digest)
  local b, s = base_of(dst), ctx.session
  if not (s.known[b] and s.known[b][digest]) then
    if s.max_known and s.n_known >= s.max_known then s.known, s.n_known = {}, 0 end
    s.known[b] = s.known[b] or {}
    s.known[b][digest] = {}
    s.n_known = s.n_known + 1
  end
  s.known[b][digest][repo] = true
  if ctx.ledger and not ctx.dry_run then ctx.ledger:add_blob(b, repo, digest) end
  if ctx.shared and not ctx.dry_run then ctx.shared:remember(b, digest, repo) end
end

-- Mount sources to try for digest at dst: the source repository when both sides are the
-- same registry, then repositories where this process or the ledger has seen the blob.
local function mount_sources(ctx, src, src_repo, dst, dst_repo, digest)
  local out, seen = {}, { [dst_repo] = true }
  local function add(repo) if not seen[repo] and #out < 3 then out[#out + 1] = repo; seen[repo] = true end end
  if base_of(src) == base_of(dst) then add(src_repo) end
  for repo in pairs((ctx.session.known[base_of(dst)] or {})[digest] or {}) do add(repo) end
  if ctx.ledger then for _, repo in ipairs(ctx.ledger:blob_repos(base_of(dst), digest)) do add(repo) end end
  if ctx.shared then for _, repo in ipairs(ctx.shared:sources(base_of(dst), digest)) do add(repo) end end
  return out
end

-- Without a shared provider: one pass. With one (opts.blob_lease: other processes copy to
-- the same registry), the transfer needs the blob's lease; a process that waited for
-- another's lease looks again, and finds the blob present or mountable.
local SHARED_PASSES = 4

local function move_blob(ctx, b, trust_ledger)
  local src, dst = ctx.src, ctx.dst
  local src_repo, dst_repo = src:repo(ctx.src_repo), dst:repo(ctx.dst_repo)
  if trust_ledger and ctx.ledger and ctx.ledger:has_blob(base_of(dst), dst_repo, b.digest) then
    return "skipped", 0
  end
  for pass = 1, SHARED_PASSES do
    local have, err, code = dst:blob_exists(dst_repo, b.digest)
    if have == nil then return nil, err, code end
    if have then remember(ctx, dst, dst_repo, b.digest); return "skipped", 0 end
    local sources = mount_sources(ctx, src, src_repo, dst, dst_repo, b.digest)
    if ctx.dry_run then return (#sources > 0 and "mounted" or "copied"), (#sources > 0 and 0 or (b.size or 0)) end
    for _, from in ipairs(sources) do
      if dst:mount(dst_repo, b.digest, from) then remember(ctx, dst, dst_repo, b.digest); return "mounted", 0 end
    end
    -- the last pass copies without a lease rather than wait for ever
    local lease = not ctx.shared or pass == SHARED_PASSES or ctx.shared:acquire(base_of(dst), b.digest)
    if lease then
      if ctx.blob_sem then ctx.blob_sem:acquire(b.size or 0) end
      local ok, n
      ok, n, err, code = pcall(dst.copy_blob_from, dst, src, src_repo, b.digest, dst_repo,
        { size = b.size, chunk_size = ctx.opts.chunk_size, buffer_size = ctx.opts.buffer_size })
      if ctx.blob_sem then ctx.blob_sem:release() end
      if ok and n then remember(ctx, dst, dst_repo, b.digest) end
      if type(lease) == "table" then lease:release() end
      if not ok then error(n, 0) end
      if not n then return nil, err, code end
      return "copied", n
    end
  end
end

--- Makes sure blob b ({digest, size}) is in the destination of ctx. Returns "skipped" |
--- "mounted" | "copied", bytes moved; or nil, message, code. Shared by concurrent copies.
local function blob(ctx, b, trust_ledger)
  local key = base_of(ctx.dst) .. "|" .. ctx.dst:repo(ctx.dst_repo) .. "|" .. b.digest
  local mine = sched.context()
  mine = mine and mine.budget
  -- a failure that spent the blob's budget (a stall, a refused connection) spends the
  -- budget of every image that needed the blob: none of them gets another round for it
  local function outcome(entry, how, n, code)
    if not how and entry.budget.final and mine then mine.final = true end
    return how, n, code
  end
  local inflight = ctx.session.inflight
  local entry = inflight[key]
  if entry and not ctx.dry_run then
    local how, n, code = sched.wait(entry.task)
    if how then return "skipped", 0 end   -- another copy moved it: nothing moved for us
    return outcome(entry, how, n, code)
  end
  -- a blob other images may wait for runs under a budget of its own (with the image's
  -- limits): an image whose budget is already spent must not fail another image's copy
  -- of a shared layer
  entry = { budget = retry.budget { stall = mine and mine.stall, max_retry_after = mine and mine.max_retry_after } }
  entry.task = sched.spawn(function()
    return sched.with_context(sched.context_with { budget = entry.budget }, move_blob, ctx, b, trust_ledger)
  end)
  inflight[key] = entry
  local ok, how, n, code = pcall(sched.wait, entry.task)
  if inflight[key] == entry then inflight[key] = nil end
  if not ok then error(how, 0) end
  return outcome(entry, how, n, code)
end

-- A source manifest, fetched once per run: prepare() fetches, the copy reuses. Returns
-- nil, message, code when the source fails; get_manifest raises that instead.
local function try_manifest(ctx, ref)
  local cache = ctx.cache
  if cache and cache[ref] then return cache[ref] end
  local m, err, code = ctx.src:manifest(ctx.src_repo, ref)
  if m and cache then cache[ref] = m end
  return m, err, code
end
local function get_manifest(ctx, ref) return check(try_manifest(ctx, ref)) end

local function new_stats()
  return { blobs_copied = 0, blobs_mounted = 0, blobs_skipped = 0, blobs_foreign = 0, bytes = 0,
           manifests_pushed = 0, manifests_skipped = 0, referrers_copied = 0, referrer_tags = 0 }
end

local copy_tree

local function copy_blobs(ctx, blobs, trust_ledger)
  sched.map(blobs, ctx.opts.blob_concurrency or 4, function(b)
    if b.foreign then ctx.stats.blobs_foreign = ctx.stats.blobs_foreign + 1; return end
    local how, n, code = blob(ctx, b, trust_ledger)
    if not how then fail(n, code) end
    local k = "blobs_" .. how
    ctx.stats[k] = ctx.stats[k] + 1
    ctx.stats.bytes = ctx.stats.bytes + n
    if ctx.on_bytes and n > 0 then ctx.on_bytes(n) end
  end)
end


local function copy_index(ctx, children, label)
  sched.map(children, ctx.opts.manifest_concurrency or 4, function(c)
    -- a manifest the destination has is complete there: registries accept a manifest only
    -- once every blob and child it names is present
    local have, herr, hcode = ctx.dst:head(ctx.dst_repo, c.digest)
    if have == nil then fail(herr, hcode) end
    if have and not ctx.opts.force then
      ctx.stats.manifests_skipped = ctx.stats.manifests_skipped + 1
      return
    end
    local cm = get_manifest(ctx, c.digest)
    copy_tree(ctx, cm, c.digest, label .. "@" .. c.digest:sub(1, 19))
  end)
end

-- Copies manifest m (already fetched) and everything under it, then pushes it as push_ref.
copy_tree = function(ctx, m, push_ref, label, top)
  local doc, err = manifest.decode(m.bytes)
  if not doc then fail(label .. ": corrupt manifest: " .. err, "BAD_MANIFEST") end
  local kind, kerr = manifest.kind(m.media_type, doc)
  local bytes, media_type = m.bytes, manifest.push_type(m.media_type, doc, kind)
  local blobs
  if kind == "schema1" then
    fail(label .. ": Docker schema 1 manifests are deprecated and not supported", "UNSUPPORTED")
  elseif kind == "index" then
    if top and ctx.filter then
      local note, fcode
      bytes, note, fcode = platform.filter_index(ctx.filter, m.bytes)
      if not bytes then fail(label .. ": " .. note, fcode) end
      if note then
        ctx.note = note
        doc = manifest.decode(bytes)
      end
    end
    local children, cerr = manifest.children(doc)
    if not children then fail(label .. ": corrupt index: " .. cerr, "BAD_MANIFEST") end
    copy_index(ctx, children, label)
  elseif kind == "image" then
    local berr
    blobs, berr = manifest.blobs(doc)
    if not blobs then fail(label .. ": corrupt manifest: " .. berr, "BAD_MANIFEST") end
    -- the largest first: the long transfers start early and the small ones fill the gaps
    table.sort(blobs, function(a, b) return (a.size or 0) > (b.size or 0) end)
    copy_blobs(ctx, blobs, true)
  else
    fail(label .. ": " .. kerr, "BAD_MANIFEST")
  end
  local want = bytes == m.bytes and m.digest or core.digest(bytes)   -- what is pushed
  if ctx.dry_run then
    ctx.stats.manifests_pushed = ctx.stats.manifests_pushed + 1
    return want
  end
  local digest, perr, pcode = ctx.dst:put_manifest(ctx.dst_repo, push_ref, bytes, media_type)
  if not digest and pcode == "MANIFEST_BLOB_UNKNOWN" and blobs and ctx.ledger then
    -- the ledger was wrong about a blob: forget what it said, check every blob, try again
    local base, repo = base_of(ctx.dst), ctx.dst:repo(ctx.dst_repo)
    for _, b in ipairs(blobs) do ctx.ledger:forget_blob(base, repo, b.digest) end
    ctx.stale_ledger = true
    copy_blobs(ctx, blobs, false)
    digest, perr, pcode = ctx.dst:put_manifest(ctx.dst_repo, push_ref, bytes, media_type)
  end
  if not digest then fail(perr, pcode) end
  if digest ~= want then
    fail(label .. ": destination digest " .. digest .. " differs from the source's " .. want, "DIGEST_MISMATCH")
  end
  ctx.stats.manifests_pushed = ctx.stats.manifests_pushed + 1
  return digest
end

-- Does the destination registry offer the referrers API? A yes is remembered per registry;
-- a no only when it was asked about a sha256 manifest it has (in a dry run the repository
-- may not exist yet, and a registry may know only sha256: neither means "no API").
local function dst_has_api(ctx, digest)
  local b, has_api = base_of(ctx.dst), ctx.session.has_api
  if has_api[b] ~= nil then return has_api[b] end
  local r, err, code = ctx.dst:referrers(ctx.dst_repo, digest)
  if r == nil then fail(err, code) end
  if r or (not ctx.dry_run and digest:match("^sha256:")) then has_api[b] = r ~= false end
  return r ~= false
end

local REFERRER_DEPTH = 3   -- an image's referrers, theirs, and theirs in turn

local function add_note(ctx, text)
  ctx.notes = ctx.notes or {}
  ctx.notes[#ctx.notes + 1] = text
end

-- Copies the referrers of digest, and theirs in turn (a signature of an SBOM): each one by
-- digest, byte for byte, each once however often the lists name it; one listed but gone
-- from the source (registries collect untagged manifests) is skipped with a note. Then,
-- when the destination has no referrers API, its fallback tag is brought up to date: the
-- source's own index when the destination has none, else the destination's with the
-- missing descriptors added (referrers pushed only there are kept).
local function copy_referrers(ctx, digest, depth)
  local list, via, fallback = referrers.list(ctx.src, ctx.src_repo, digest)
  if not list then fail(("referrers of %s: %s"):format(digest, via), fallback) end
  if #list == 0 then return end
  local missing = {}
  sched.map(list, ctx.opts.manifest_concurrency or 4, function(d)
    if ctx.referrers_seen[d.digest] then return end
    ctx.referrers_seen[d.digest] = true
    local label = ("%s referrer %s"):format(ctx.label, d.digest:sub(1, 19))
    local have = check(ctx.dst:head(ctx.dst_repo, d.digest))
    if not have or ctx.opts.force then
      local m, err, code = try_manifest(ctx, d.digest)
      if not m and code == "MANIFEST_UNKNOWN" then
        missing[d.digest] = true
        add_note(ctx, ("referrer %s of %s is listed but gone from the source: skipped"):format(d.digest, digest))
        return
      end
      if not m then fail(("%s: %s"):format(label, err), code) end
      copy_tree(ctx, m, d.digest, label)
      ctx.stats.referrers_copied = ctx.stats.referrers_copied + 1
    end
    if depth < REFERRER_DEPTH then copy_referrers(ctx, d.digest, depth + 1) end
  end)
  if dst_has_api(ctx, digest) then return end
  local keep = {}
  for _, d in ipairs(list) do if not missing[d.digest] then keep[#keep + 1] = d end end
  local tag = referrers.tag(digest)
  local dh = check(ctx.dst:head(ctx.dst_repo, tag))
  if dh and fallback and dh.digest == fallback.digest then return end
  if not dh and #keep == 0 then return end
  local bytes, media_type = nil, manifest.OCI_INDEX
  if not dh and fallback and #keep == #list then
    bytes, media_type = fallback.bytes, fallback.media_type
  else
    bytes = referrers.merge(dh and check(ctx.dst:manifest(ctx.dst_repo, tag)).bytes, keep)
  end
  if not bytes then return end
  if not ctx.dry_run then check(ctx.dst:put_manifest(ctx.dst_repo, tag, bytes, media_type)) end
  ctx.stats.referrer_tags = ctx.stats.referrer_tags + 1
end

-- cosign's own tags (cosign without OCI 1.1 mode, the common case): sha256-<hex>.sig, .att
-- and .sbom next to the image, copied when the destination's differ.
local function copy_cosign_tags(ctx, digest)
  sched.map({ ".sig", ".att", ".sbom" }, 3, function(suffix)
    local tag = referrers.tag(digest) .. suffix
    local sh = check(ctx.src:head(ctx.src_repo, tag))
    if not sh then return end
    local dh = check(ctx.dst:head(ctx.dst_repo, tag))
    if dh and sh.digest and dh.digest == sh.digest and not ctx.opts.force then return end
    copy_tree(ctx, get_manifest(ctx, tag), tag, ctx.label .. " " .. tag)
    ctx.stats.referrers_copied = ctx.stats.referrers_copied + 1
  end)
end

-- After an image is copied or found unchanged: its referrers, when asked for and when the
-- destination digest is the source's (a filtered index is a new manifest: nothing refers
-- to it).
local function with_referrers(ctx, res)
  if not ctx.opts.referrers or not res.source_digest then return res end
  if res.digest ~= res.source_digest then
    add_note(ctx, "referrers not copied: the digest changed")
  else
    ctx.referrers_seen = { [res.source_digest] = true }
    copy_referrers(ctx, res.source_digest, 1)
    copy_cosign_tags(ctx, res.source_digest)
  end
  if ctx.notes then res.note = (res.note and (res.note .. "; ") or "") .. table.concat(ctx.notes, "; ") end
  return res
end

-- With a platform filter, a single-platform image is copied only when its config matches.
-- A config that cannot be fetched fails the image: copying it unread could bring a
-- platform the user excluded.
local function platform_of_image(ctx, m)
  local doc = manifest.decode(m.bytes)
  local function unknown(why)
    fail(("%s: cannot tell its platform to apply the platform filter (%s): %s"):format(ctx.label,
      platform.describe(ctx.filter), why), "MANIFEST_INVALID")
  end
  if not doc or type(doc.config) ~= "table" or type(doc.config.digest) ~= "string" then
    unknown("the manifest names no config")
  end
  local cfg, err, code = ctx.src:blob(ctx.src_repo, doc.config.digest, { max_size = 4 * 1024 * 1024 })
  if not cfg then
    fail(("%s: cannot read its config to apply the platform filter (%s): %s"):format(ctx.label,
      platform.describe(ctx.filter), err), code)
  end
  local c = require("isync.json").decode(cfg)
  if type(c) ~= "table" then unknown("its config is not a JSON object") end
  return { os = c.os, architecture = c.architecture, variant = c.variant, ["os.version"] = c["os.version"] }
end

--- "name/repo:tag", or "name/repo@digest" for a digest reference.
function M.refname(name, repo, ref)
  return name .. "/" .. repo .. (ref:find(":", 1, true) and "@" or ":") .. ref
end

-- The state of one image copy: both ends, how to name it in messages (label) and in the
-- ledger (key), its counters, and the source manifests fetched so far.
local function new_ctx(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  dst_repo = dst_repo or src_repo
  dst_ref = dst_ref or ref
  return { src = src, src_repo = src_repo, ref = ref, dst = dst, dst_repo = dst_repo, dst_ref = dst_ref,
           opts = opts, stats = new_stats(), ledger = opts.ledger, blob_sem = opts.blob_sem, dry_run = opts.dry_run,
           session = opts.session or default_session,
           filter = opts.platforms, on_bytes = opts.on_bytes, cache = opts.prepared and opts.prepared.cache or {},
           shared = opts.blob_lease,
           label = M.refname(src.name, src:repo(src_repo), ref),
           key = M.refname(base_of(dst), dst:repo(dst_repo), dst_ref) }
end

-- The unchanged check: HEAD the source, and (without a filter or force) the destination.
-- Returns a "skipped" result when both name the same digest.
local function compare(ctx)
  local asks = not ctx.opts.force and not ctx.filter
  -- trust_ledger: the destination holds what this ledger last recorded there, so an
  -- unchanged source costs one HEAD and the destination is not asked
  local recorded = asks and ctx.opts.trust_ledger and ctx.ledger and ctx.ledger:image(ctx.key)
  -- else both HEADs at once: an unchanged image costs one round trip, not two in a row
  local function head_dst() return sched.spawn(function() return ctx.dst:head(ctx.dst_repo, ctx.dst_ref) end) end
  local dst_head = asks and not recorded and head_dst()
  local ok, sh = pcall(function() return check(ctx.src:head(ctx.src_repo, ctx.ref)) end)
  if ok and sh and recorded then
    if sh.digest == recorded then
      return { status = "skipped", digest = sh.digest, source_digest = sh.digest, media_type = sh.media_type,
               stats = ctx.stats, reason = "unchanged since the ledger's record" }
    end
    dst_head = head_dst()   -- changed at the source: is the destination already there?
  end
  if dst_head and not (ok and sh and sh.digest) then pcall(sched.wait, dst_head) end   -- never left running
  if not ok then error(sh, 0) end
  if not sh then fail(ctx.label .. ": manifest unknown", "MANIFEST_UNKNOWN") end
  if dst_head and sh.digest then
    local dh = check(sched.wait(dst_head))
    if dh and dh.digest == sh.digest then
      if ctx.ledger and not ctx.dry_run then ctx.ledger:set_image(ctx.key, sh.digest) end
      return { status = "skipped", digest = sh.digest, source_digest = sh.digest, media_type = sh.media_type, stats = ctx.stats }
    end
  end
end

local function image(ctx)
  -- HEAD both sides first: an unchanged image costs two HEADs and no GET (pull quotas)
  local prepared = ctx.opts.prepared
  local early = prepared and prepared.unchanged or (not prepared and compare(ctx))
  if early then
    early.stats = ctx.stats
    return with_referrers(ctx, early)
  end
  local m = get_manifest(ctx, ctx.ref)
  if ctx.filter then
    local doc = manifest.decode(m.bytes)
    local kind = doc and manifest.kind(m.media_type, doc)
    if kind == "image" then
      local p = platform_of_image(ctx, m)
      if p and not platform.matches(ctx.filter, p) then
        return { status = "skipped", digest = m.digest, source_digest = m.digest, stats = ctx.stats,
                 reason = ("platform %s/%s is not selected (%s)"):format(p.os, p.architecture, platform.describe(ctx.filter)) }
      end
    elseif kind == "index" and not ctx.opts.force then
      -- compare against what we would push: the filtered index
      local filtered = platform.filter_index(ctx.filter, m.bytes)
      local want = filtered and core.digest(filtered)
      local dh = want and check(ctx.dst:head(ctx.dst_repo, ctx.dst_ref))
      if dh and dh.digest == want then
        return with_referrers(ctx, { status = "skipped", digest = want, source_digest = m.digest, stats = ctx.stats })
      end
    end
  end
  local digest = copy_tree(ctx, m, ctx.dst_ref, ctx.label, true)
  if ctx.ledger and not ctx.dry_run then ctx.ledger:set_image(ctx.key, digest) end
  return with_referrers(ctx, { status = ctx.dry_run and "would copy" or "copied", digest = digest, source_digest = m.digest,
           media_type = m.media_type, stats = ctx.stats, note = ctx.note, stale_ledger = ctx.stale_ledger })
end

-- The first half of a copy, for scheduling: the unchanged check, then the source manifest
-- tree (cached for the copy, so nothing is fetched twice) and the size of its largest blob.
local function prepare(ctx)
  local early = compare(ctx)
  -- unchanged, but its referrers may not be: the copy checks them
  if early and ctx.opts.referrers then return { status = "prepared", weight = 0, unchanged = early, cache = ctx.cache } end
  if early then return early end
  local weight = 0
  local function walk(r, depth)
    local m = get_manifest(ctx, r)
    local doc = manifest.decode(m.bytes)
    local kind = doc and manifest.kind(m.media_type, doc)
    if kind == "image" then
      for _, b in ipairs(manifest.blobs(doc) or {}) do
        if not b.foreign then weight = math.max(weight, b.size or 0) end   -- foreign: not moved
      end
    elseif kind == "index" and depth < 4 then
      for _, c in ipairs(manifest.children(doc) or {}) do walk(c.digest, depth + 1) end
    end
  end
  walk(ctx.ref, 0)
  return { status = "prepared", weight = weight, cache = ctx.cache }
end

-- Runs fn(ctx) for one copy: failures of the world come back as nil, message, code.
-- Every request of the copy, in this task and the tasks it spawns, shares one retry budget
-- (opts.budget, or a new one): a stall fails the image once instead of once per request.
local function run(fn, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  opts = opts or {}
  local budget = opts.budget or retry.budget { stall = opts.stall_budget, max_retry_after = opts.max_retry_after }
  local ok, res = pcall(sched.with_context, sched.context_with { budget = budget }, function()
    return fn(new_ctx(src, src_repo, ref, dst, dst_repo, dst_ref, opts))
  end)
  if ok then return res end
  if getmetatable(res) == Failure then return nil, res.msg, res.code end
  error(res, 0)
end

--- Prepares a copy for scheduling (plans use it to start the largest work first): returns a
--- final {status = "skipped"} result, or {status = "prepared", weight, cache} to pass to
--- M.image as opts.prepared; or nil, message, code. Writes nothing.
function M.prepare(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  return run(prepare, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
end

--- Copies src/src_repo:ref to dst/dst_repo:dst_ref (dst_repo defaults to src_repo, dst_ref
--- to ref). opts: force (copy even when the destination digest matches), dry_run (write
--- nothing, count what would move), ledger (isync.ledger), platforms (isync.platform filter),
--- blob_sem (a shared semaphore bounding blob transfers), blob_concurrency,
--- manifest_concurrency, chunk_size, buffer_size, on_bytes(n), referrers (also copy the
--- manifests that refer to the image: signatures, SBOMs, attestations; see isync.referrers),
--- budget (isync.retry.budget shared by the image's requests; else a new one from
--- stall_budget and max_retry_after), trust_ledger (skip a tag whose source digest is what
--- the ledger last recorded at the destination, without asking the destination), session
--- (M.session(): what concurrent copies share; default one for the whole process,
--- bounded), blob_lease (other processes copy to the same registries: {acquire(base,
--- digest) -> lease with :release() | false after waiting for another's, sources(base,
--- digest) -> {repos}, remember(base, digest, repo)}; isync.queue).
--- Returns {status = "copied"|"skipped"|"would copy", digest, source_digest, media_type,
--- stats, note, reason}, or nil, message, code.
local COPY_OPTS = { "force", "dry_run", "ledger", "trust_ledger", "platforms", "blob_sem", "blob_concurrency",
  "manifest_concurrency", "chunk_size", "buffer_size", "on_bytes", "referrers", "budget", "stall_budget",
  "max_retry_after", "prepared", "session", "blob_lease" }
function M.image(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  argcheck.options(opts, COPY_OPTS, "isync.copy options")
  if not sched.current() then
    return sched.run(M.image, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  end
  return run(image, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
end

return M
