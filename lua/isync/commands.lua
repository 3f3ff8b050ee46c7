-- isync.commands: the quick commands, for what people otherwise do by hand.
--   isync cp SRC DST       one image, every platform, digest preserved
--   isync ls REPO          tags (with --digests, each tag's digest)
--   isync inspect REF      media type, digest, size, platforms, referrers
local isync = require "isync"
local manifest = require "isync.manifest"
local json = require "isync.json"
local report = require "isync.report"
local referrers = require "isync.referrers"
local refname = require("isync.copy").refname

local M = {}

local COMMON = [[
connection options:
  --plain-http              talk HTTP (both sides for cp; --src-plain-http, --dst-plain-http)
  --insecure                HTTPS without certificate verification (--src-insecure, --dst-insecure)
  --ca FILE                 CA bundle for TLS (--src-ca, --dst-ca)
credentials come from ~/.docker/config.json ($DOCKER_CONFIG).
]]

M.HELP = {
  cp = "usage: isync cp [options] SRC DST\n\nCopies one image (a tag or a digest) with every platform; the destination digest\n" ..
       "equals the source's. DST without a tag keeps the source's tag (or digest).\n  --force     copy even when the destination already has the digest\n" ..
       "  --dry-run   say what would be copied\n  --referrers also copy its referrers (signatures, SBOMs, attestations)\n\n" .. COMMON,
  ls = "usage: isync ls [options] REPO\n\nLists the tags of a repository (REGISTRY/PATH; Docker Hub when there is no registry).\n" ..
       "  --digests   also each tag's digest (one HEAD per tag)\n\n" .. COMMON,
  inspect = "usage: isync inspect [options] REF\n\nShows an image: media type, digest, size, platforms, layers, config and referrers\n" ..
            "(signatures, SBOMs) where the registry offers them.\n  --json      print it as JSON\n\n" .. COMMON,
}

local function parse(argv, flags)
  local o, pos = {}, {}
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "-h" or a == "--help" then o.help = true
    elseif flags[a] == "value" then i = i + 1; o[a:sub(3):gsub("%-", "_")] = argv[i] or error(a .. " needs a value", 0)
    elseif flags[a] then o[a:sub(3):gsub("%-", "_")] = true
    elseif a:sub(1, 1) == "-" then error("unknown option " .. a, 0)
    else pos[#pos + 1] = a end
    i = i + 1
  end
  return o, pos
end

local CONN = { ["--plain-http"] = true, ["--src-plain-http"] = true, ["--dst-plain-http"] = true,
               ["--insecure"] = true, ["--src-insecure"] = true, ["--dst-insecure"] = true,
               ["--ca"] = "value", ["--src-ca"] = "value", ["--dst-ca"] = "value" }

local function flags(extra)
  local f = {}
  for k, v in pairs(CONN) do f[k] = v end
  for k, v in pairs(extra or {}) do f[k] = v end
  return f
end

local function open(o, side, registry)
  local pre = side and (side .. "_") or ""
  return isync.registry(registry, {
    plain_http = o.plain_http or o[pre .. "plain_http"],
    skip_verify = o.insecure or o[pre .. "insecure"],
    ca_file = o[pre .. "ca"] or o.ca,
  })
end

local function ref_of(text, what)
  local r, err = isync.parse_ref(text)
  if not r then error(what .. ": " .. err, 0) end
  return r
end

function M.cp(argv)
  local o, pos = parse(argv, flags { ["--force"] = true, ["--dry-run"] = true, ["--referrers"] = true })
  if o.help then io.stdout:write(M.HELP.cp); return 0 end
  if #pos ~= 2 then io.stderr:write(M.HELP.cp); return 2 end
  local s, d = ref_of(pos[1], "source"), ref_of(pos[2], "destination")
  local sref = s.digest or s.tag or "latest"
  local dref = d.digest or d.tag or sref
  if d.digest and d.digest ~= s.digest then error("destination digest must equal the source's", 0) end
  local src, dst = open(o, "src", s.registry), open(o, "dst", d.registry)
  local res, err, code = isync.copy(src, s.repo, sref, dst, d.repo, dref, { force = o.force, dry_run = o.dry_run, referrers = o.referrers })
  if not res then error(("%s (%s)"):format(err, code), 0) end
  local st = res.stats
  print(("%s %s -> %s %s (%d blobs copied, %d mounted, %d present, %s%s)%s"):format(res.status,
    refname(s.registry, s.repo, sref), refname(d.registry, d.repo, dref), res.digest, st.blobs_copied,
    st.blobs_mounted, st.blobs_skipped, report.human(st.bytes),
    o.referrers and (", %d referrers copied"):format(st.referrers_copied) or "", res.note and ("; " .. res.note) or ""))
  return 0
end

-- The start of the one-argument commands: options, --help, the reference and its registry.
-- Returns nil and the exit status when there is nothing more to do.
local function one_ref(argv, name, extra, what)
  local o, pos = parse(argv, flags(extra))
  if o.help then io.stdout:write(M.HELP[name]); return nil, 0 end
  if #pos ~= 1 then io.stderr:write(M.HELP[name]); return nil, 2 end
  local r = ref_of(pos[1], what)
  return o, r, open(o, nil, r.registry)
end

function M.ls(argv)
  local o, r, reg = one_ref(argv, "ls", { ["--digests"] = true }, "repository")
  if not o then return r end
  local tags, err, code = reg:tags(r.repo)
  if not tags then error(("%s (%s)"):format(err, code), 0) end
  table.sort(tags)
  if not o.digests then
    for _, t in ipairs(tags) do print(t) end
    return 0
  end
  local heads = isync.run(function()
    return isync.map(tags, 8, function(t) return reg:head(r.repo, t) or false end)
  end)
  for i, t in ipairs(tags) do print(("%s\t%s"):format(t, heads[i] and heads[i].digest or "?")) end
  return 0
end

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
    if type(doc.config) == "table" then
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

function M.inspect(argv)
  local o, r, reg = one_ref(argv, "inspect", { ["--json"] = true }, "reference")
  if not o then return r end
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
end

return M
