-- isync.referrers: the OCI 1.1 referrers of a manifest (signatures, SBOMs, attestations:
-- manifests whose `subject` names it), found through the referrers API or, on registries
-- without it, through the fallback tag "sha256-<hex>" whose index lists them.
local json = require "isync.json"
local manifest = require "isync.manifest"
local check = require "isync.check"

local M = {}

--- The fallback tag of a digest: "<alg>-<hex>", the hex cut at 64 characters as the OCI
--- distribution spec says (a sha512 one would exceed the 128 a tag may have).
function M.tag(digest)
  local alg, hex
  if type(digest) == "string" then alg, hex = digest:match("^([^:]+):(.+)$") end
  if not alg then check.fail("isync.referrers.tag: a digest (alg:hex) is needed, not " .. tostring(digest)) end
  return alg .. "-" .. hex:sub(1, 64)
end

-- The decoded index in bytes, or nil when they are not one (no JSON object, or no list of
-- manifests).
local function index_doc(bytes)
  local doc = json.decode(bytes)
  if type(doc) == "table" and type(doc.manifests) == "table" then return doc end
end

--- The descriptors of an index's bytes; nil, message, "BAD_MANIFEST" when they are not an
--- index. where names the bytes in the message.
local function descriptors(bytes, where)
  local doc = index_doc(bytes)
  if not doc then return nil, where .. ": not an image index", "BAD_MANIFEST" end
  local ok, err = manifest.children(doc)
  if not ok then return nil, where .. ": " .. err, "BAD_MANIFEST" end
  return doc.manifests
end
M.descriptors = descriptors

--- One index of the pages of a paged referrers answer: the first page's document with the
--- descriptors of the others appended. nil, message, "BAD_MANIFEST" when a page is no index.
function M.join(pages, where)
  local doc
  for i, page in ipairs(pages) do
    local d = index_doc(page)
    if not d then
      return nil, ("%s: page %d is not an image index"):format(where, i), "BAD_MANIFEST"
    end
    if not doc then doc = d
    else for _, m in ipairs(d.manifests) do doc.manifests[#doc.manifests + 1] = m end end
  end
  return json.encode(doc)
end

--- The referrers of repo@digest at reg. Returns the list of descriptors (as the registry
--- gave them: mediaType, digest, size, artifactType, annotations) and how they were found:
--- "api"; "tag" plus the fallback index {bytes, digest, media_type}; or "none" (no API and
--- no fallback tag). nil, message, code[, info] when the registry fails.
function M.list(reg, repo, digest)
  local tag = M.tag(digest)
  local bytes, err, code, info = reg:referrers(repo, digest)
  if bytes == nil then return nil, err, code, info end
  if bytes then
    local list, derr, dcode = descriptors(bytes, reg.name .. "/" .. repo .. " referrers of " .. digest)
    if not list then return nil, derr, dcode end
    return list, "api"
  end
  local head, herr, hcode, hinfo = reg:head(repo, tag)
  if head == nil then return nil, herr, hcode, hinfo end
  if not head then return json.array(), "none" end
  local m, merr, mcode, minfo = reg:manifest(repo, tag)
  if not m then return nil, merr, mcode, minfo end
  local list, derr, dcode = descriptors(m.bytes, reg.name .. "/" .. repo .. ":" .. tag)
  if not list then return nil, derr, dcode end
  return list, "tag", m
end

--- The fallback index for a registry without the API: `have` (the index bytes there now,
--- or nil) with every descriptor of `add` it lacks appended. Returns the bytes to push, or
--- nil when `have` already lists them all.
function M.merge(have, add)
  local doc = have and index_doc(have)
  if not doc then
    doc = { schemaVersion = 2, mediaType = manifest.OCI_INDEX, manifests = json.array() }
    have = nil
  end
  local seen, changed = {}, have == nil
  for _, d in ipairs(doc.manifests) do if type(d) == "table" then seen[d.digest] = true end end
  for _, d in ipairs(add) do
    if not seen[d.digest] then
      doc.manifests[#doc.manifests + 1] = d
      seen[d.digest] = true
      changed = true
    end
  end
  return changed and json.encode(doc) or nil
end

return M
