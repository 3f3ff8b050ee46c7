-- isync.copy: copy one image (a tag or a digest) between registries, every platform,
-- byte for byte: children before their index, blobs before their manifest, each
-- manifest pushed exactly as fetched so every destination digest equals the source's.
--
-- Blobs already at the destination are skipped, blobs that live in another repository
-- of the destination registry are mounted, the rest are streamed (never touching disk).
-- A blob wanted by several copies at once is transferred once.
local sched = require "isync.sched"
local manifest = require "isync.manifest"

local M = {}

local inflight = {}   -- "registry|repo|digest" -> task moving that blob now
local known = {}      -- destination base URL -> digest -> { repo = true } (mount sources)

-- Failures of the world travel as {msg, code} errors through the task tree and come out
-- of M.image as nil, msg, code. Anything else raised is a bug and propagates as is.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(f) return f.msg end
local function fail(msg, code) error(setmetatable({ msg = msg, code = code or "INTERNAL" }, Failure), 0) end
local function check(v, msg, code) if v == nil then fail(msg, code) end return v end

local function base_of(reg) return reg:info().base end

local function remember(reg, repo, digest)
  local b = base_of(reg)
  known[b] = known[b] or {}
  known[b][digest] = known[b][digest] or {}
  known[b][digest][repo] = true
end

-- Mount sources to try for digest at dst: the source repository when both sides are the
-- same registry, then repositories where this process has seen the blob.
local function mount_sources(src, src_repo, dst, dst_repo, digest)
  local out, seen = {}, { [dst_repo] = true }
  if base_of(src) == base_of(dst) and not seen[src_repo] then out[#out + 1] = src_repo; seen[src_repo] = true end
  for repo in pairs((known[base_of(dst)] or {})[digest] or {}) do
    if not seen[repo] and #out < 3 then out[#out + 1] = repo; seen[repo] = true end
  end
  return out
end

local function move_blob(src, src_repo, dst, dst_repo, b, opts)
  local have, err, code = dst:blob_exists(dst_repo, b.digest)
  if have == nil then return nil, err, code end
  if have then remember(dst, dst_repo, b.digest); return "skipped", 0 end
  for _, from in ipairs(mount_sources(src, dst:repo(src_repo), dst, dst_repo, b.digest)) do
    local mounted = dst:mount(dst_repo, b.digest, from)
    if mounted then remember(dst, dst_repo, b.digest); return "mounted", 0 end
  end
  local n
  n, err, code = dst:copy_blob_from(src, src_repo, b.digest, dst_repo,
    { size = b.size, chunk_size = opts.chunk_size, buffer_size = opts.buffer_size })
  if not n then return nil, err, code end
  remember(dst, dst_repo, b.digest)
  return "copied", n
end

--- Makes sure blob b ({digest, size}) is in dst_repo. Returns "skipped" | "mounted" |
--- "copied", bytes moved; or nil, message, code.
function M.blob(src, src_repo, dst, dst_repo, b, opts)
  opts = opts or {}
  local key = base_of(dst) .. "|" .. dst:repo(dst_repo) .. "|" .. b.digest
  local t = inflight[key]
  if t then
    local how, n, code = sched.wait(t)
    if how then return "skipped", 0 end   -- another copy moved it: nothing moved for us
    return how, n, code
  end
  t = sched.spawn(move_blob, src, src_repo, dst, dst_repo, b, opts)
  inflight[key] = t
  local ok, how, n, code = pcall(sched.wait, t)
  inflight[key] = nil
  if not ok then error(how, 0) end
  return how, n, code
end

local function new_stats()
  return { blobs_copied = 0, blobs_mounted = 0, blobs_skipped = 0, blobs_foreign = 0, bytes = 0,
           manifests_pushed = 0, manifests_skipped = 0 }
end

local copy_tree

local function copy_image_manifest(ctx, m, doc, push_ref, label)
  local blobs, err = manifest.blobs(doc)
  if not blobs then fail(label .. ": corrupt manifest: " .. err, "BAD_MANIFEST") end
  -- the largest first: the long transfers start early and the small ones fill the gaps
  table.sort(blobs, function(a, b) return (a.size or 0) > (b.size or 0) end)
  sched.map(blobs, ctx.opts.blob_concurrency or 4, function(b)
    if b.foreign then ctx.stats.blobs_foreign = ctx.stats.blobs_foreign + 1; return end
    local how, n, code = M.blob(ctx.src, ctx.src_repo, ctx.dst, ctx.dst_repo, b, ctx.opts)
    if not how then fail(n, code) end
    local k = "blobs_" .. how
    ctx.stats[k] = ctx.stats[k] + 1
    ctx.stats.bytes = ctx.stats.bytes + n
  end)
end

local function copy_index(ctx, doc, label)
  local children, err = manifest.children(doc)
  if not children then fail(label .. ": corrupt index: " .. err, "BAD_MANIFEST") end
  sched.map(children, ctx.opts.manifest_concurrency or 4, function(c)
    -- a manifest the destination has is complete there: registries accept a manifest only
    -- once every blob and child it names is present
    local have, herr, hcode = ctx.dst:head(ctx.dst_repo, c.digest)
    if have == nil then fail(herr, hcode) end
    if have and not ctx.opts.force then
      ctx.stats.manifests_skipped = ctx.stats.manifests_skipped + 1
      return
    end
    local cm = check(ctx.src:manifest(ctx.src_repo, c.digest))
    copy_tree(ctx, cm, c.digest, label .. "@" .. c.digest:sub(1, 19))
  end)
end

-- Copies manifest m (already fetched) and everything under it, then pushes it as push_ref.
copy_tree = function(ctx, m, push_ref, label)
  local doc, err = manifest.decode(m.bytes)
  if not doc then fail(label .. ": corrupt manifest: " .. err, "BAD_MANIFEST") end
  local kind, kerr = manifest.kind(m.media_type, doc)
  if kind == "schema1" then
    fail(label .. ": Docker schema 1 manifests are deprecated and not supported", "UNSUPPORTED")
  elseif kind == "index" then
    copy_index(ctx, doc, label)
  elseif kind == "image" then
    copy_image_manifest(ctx, m, doc, push_ref, label)
  else
    fail(label .. ": " .. kerr, "BAD_MANIFEST")
  end
  local digest, perr, pcode = ctx.dst:put_manifest(ctx.dst_repo, push_ref, m.bytes, manifest.push_type(m.media_type, doc, kind))
  if not digest then fail(perr, pcode) end
  if digest ~= m.digest then
    fail(label .. ": destination digest " .. digest .. " differs from the source's " .. m.digest, "DIGEST_MISMATCH")
  end
  ctx.stats.manifests_pushed = ctx.stats.manifests_pushed + 1
end

local function image(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  opts = opts or {}
  dst_repo = dst_repo or src_repo
  dst_ref = dst_ref or ref
  local label = src.name .. "/" .. src:repo(src_repo) .. (ref:find(":", 1, true) and "@" or ":") .. ref
  local ctx = { src = src, src_repo = src_repo, dst = dst, dst_repo = dst_repo, opts = opts, stats = new_stats() }
  local started = sched.current() and require("isync.core").monotime()
  -- HEAD both sides first: an unchanged image costs two HEADs and no GET (pull quotas)
  if not opts.force then
    local sh = check(src:head(src_repo, ref))
    if not sh then fail(label .. ": manifest unknown", "MANIFEST_UNKNOWN") end
    if sh.digest then
      local dh = check(dst:head(dst_repo, dst_ref))
      if dh and dh.digest == sh.digest then
        return { status = "skipped", digest = sh.digest, media_type = sh.media_type, stats = ctx.stats }
      end
    end
  end
  local m = check(src:manifest(src_repo, ref))
  copy_tree(ctx, m, dst_ref, label)
  return { status = "copied", digest = m.digest, media_type = m.media_type, stats = ctx.stats,
           seconds = started and (require("isync.core").monotime() - started) or nil }
end

--- Copies src/src_repo:ref to dst/dst_repo:dst_ref (dst_repo defaults to src_repo, dst_ref
--- to ref). opts: force (copy even when the destination digest matches), blob_concurrency,
--- manifest_concurrency, chunk_size, buffer_size.
--- Returns {status = "copied"|"skipped", digest, media_type, stats}, or nil, message, code.
function M.image(src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  if not sched.current() then
    return sched.run(M.image, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  end
  local ok, res = pcall(image, src, src_repo, ref, dst, dst_repo, dst_ref, opts)
  if ok then return res end
  if getmetatable(res) == Failure then return nil, res.msg, res.code end
  error(res, 0)
end

return M
