-- isync.manifest: what a manifest is and what it refers to. Decoding is for reading only:
-- the bytes pushed are always the bytes fetched, so digests survive.
local json = require "isync.json"
local core = require "isync.core"

local M = {}

-- The manifest media types are one list, in C (src/registry/mediatypes.c: the Accept header
-- of manifest requests is built from it): M.OCI_INDEX, M.DOCKER_LIST, ... and the kinds here.
local INDEX_TYPES, IMAGE_TYPES, SCHEMA1_TYPES = {}, {}, {}
local KIND_SET = { index = INDEX_TYPES, manifest = IMAGE_TYPES, artifact = IMAGE_TYPES, schema1 = SCHEMA1_TYPES }
for _, t in ipairs(core.media_types) do
  M[t.name] = t.type
  KIND_SET[t.kind][t.type] = true
end
-- a layer type, not a manifest's: such layers are never pushed
M.DOCKER_FOREIGN_LAYER = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

local function is_table(v) return type(v) == "table" and v ~= json.null end

--- Decodes manifest bytes. Returns the document, or nil, reason, "BAD_MANIFEST".
function M.decode(bytes)
  if not bytes:match("^%s*{") then return nil, "not a JSON object", "BAD_MANIFEST" end
  local doc, err = json.decode(bytes)
  if not is_table(doc) then return nil, "not a JSON object" .. (err and (": " .. err) or ""), "BAD_MANIFEST" end
  return doc
end

--- The kind of a fetched manifest: "index", "image" or "schema1"; nil, reason, "BAD_MANIFEST"
--- otherwise.
--- The Content-Type wins; the document's own mediaType and shape decide when it is vague.
function M.kind(media_type, doc)
  local mt = media_type
  if not (INDEX_TYPES[mt] or IMAGE_TYPES[mt] or SCHEMA1_TYPES[mt]) then mt = doc.mediaType end
  if INDEX_TYPES[mt] then return "index" end
  if IMAGE_TYPES[mt] then return "image" end
  if SCHEMA1_TYPES[mt] or doc.schemaVersion == 1 then return "schema1" end
  if is_table(doc.manifests) then return "index" end
  if is_table(doc.layers) or is_table(doc.config) then return "image" end
  return nil, "unrecognised manifest (media type " .. tostring(media_type) .. ")", "BAD_MANIFEST"
end

--- The media type to push with: the fetched Content-Type when it names a manifest,
--- else the document's mediaType, else one implied by its shape.
function M.push_type(media_type, doc, kind)
  if media_type and (INDEX_TYPES[media_type] or IMAGE_TYPES[media_type] or SCHEMA1_TYPES[media_type]) then
    return media_type
  end
  -- the document's own word, when it is a well-formed type (it ends up in a header)
  if type(doc.mediaType) == "string" and doc.mediaType:match("^[%w][%w!#$&^_.+-]*/[%w][%w!#$&^_.+-]*$") then
    return doc.mediaType
  end
  return kind == "index" and M.OCI_INDEX or M.OCI_MANIFEST
end

local function check_descriptor(d, where)
  if not is_table(d) then return nil, where .. " is not a descriptor" end
  if type(d.digest) ~= "string" or not d.digest:match("^sha%d+:%x+$") then
    return nil, where .. " has no valid digest"
  end
  if d.size ~= nil and math.type(d.size) ~= "integer" and type(d.size) ~= "number" then
    return nil, where .. " has an invalid size"
  end
  return true
end

--- The blobs an image manifest needs: config first, then layers (nil, reason,
--- "BAD_MANIFEST" when a descriptor is malformed). Each is
--- {digest, size, media_type, foreign = true when it must not be pushed (urls / foreign type)}.
function M.blobs(doc)
  local out = {}
  if doc.config ~= nil then
    local ok, err = check_descriptor(doc.config, "config")
    if not ok then return nil, err, "BAD_MANIFEST" end
    out[#out + 1] = { digest = doc.config.digest, size = math.tointeger(doc.config.size), media_type = doc.config.mediaType }
  end
  local layers, what = doc.layers, "layer"
  if layers == nil and doc.blobs ~= nil then layers, what = doc.blobs, "blob" end
  if layers ~= nil and not is_table(layers) then return nil, what .. "s is not a list", "BAD_MANIFEST" end
  for i, l in ipairs(layers or {}) do
    local ok, err = check_descriptor(l, what .. " " .. i)
    if not ok then return nil, err, "BAD_MANIFEST" end
    local foreign = l.mediaType == M.DOCKER_FOREIGN_LAYER or (is_table(l.urls) and #l.urls > 0)
    out[#out + 1] = { digest = l.digest, size = math.tointeger(l.size), media_type = l.mediaType, foreign = foreign or nil }
  end
  return out
end

--- The children of an index: {digest, size, media_type, platform}; nil, reason,
--- "BAD_MANIFEST" when malformed.
function M.children(doc)
  if not is_table(doc.manifests) then return nil, "manifests is not a list", "BAD_MANIFEST" end
  local out = {}
  for i, d in ipairs(doc.manifests) do
    local ok, err = check_descriptor(d, "manifests[" .. i .. "]")
    if not ok then return nil, err, "BAD_MANIFEST" end
    out[#out + 1] = { digest = d.digest, size = math.tointeger(d.size), media_type = d.mediaType, platform = d.platform }
  end
  return out
end

--- "linux/arm64/v8" for a platform table, or nil.
function M.platform_string(p)
  if not is_table(p) then return nil end
  local s = (p.os or "?") .. "/" .. (p.architecture or "?")
  if p.variant then s = s .. "/" .. p.variant end
  return s
end

return M
