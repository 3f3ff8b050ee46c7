-- isync.rename: destination names from source names. Every result is checked against the
-- registry name rules, so a policy learns of a bad name when it plans, with the name and
-- the rule in the message, not from a registry error halfway through a migration.
local core = require "isync.core"

local M = {}

--- Raises unless name is a valid repository path (lowercase components separated by "/").
function M.check(name, context)
  if type(name) ~= "string" or not core.repo_valid(name) then
    error(("%sinvalid repository name %q: use lowercase letters and digits, separated by '.', '_', '__' or " ..
           "'-', in components joined by '/'"):format(context and (context .. ": ") or "", tostring(name)), 2)
  end
  return name
end

--- Raises unless tag is a valid tag.
function M.check_tag(tag, context)
  if type(tag) ~= "string" or not core.tag_valid(tag) then
    error(("%sinvalid tag %q: up to 128 of [A-Za-z0-9_.-], not starting with '.' or '-'"):format(
      context and (context .. ": ") or "", tostring(tag)), 2)
  end
  return tag
end

--- Replaces a leading path prefix (whole components only): prefix("team-a/web", "team-a", "acme")
--- is "acme/web"; a name without the prefix is returned unchanged (and false second).
function M.prefix(name, from, to)
  local out
  if name == from then out = to
  elseif name:sub(1, #from + 1) == from .. "/" then out = (to ~= "" and (to .. "/") or "") .. name:sub(#from + 2)
  else return name, false end
  return M.check(out, "rename.prefix"), true
end

--- At most `levels` path components (some registries allow only two): the first levels-1
--- components stay, the rest are joined with sep ("-" by default).
--- flatten("a/b/c/d", 2) is "a/b-c-d"; flatten("a/b/c", 1) is "a-b-c".
function M.flatten(name, levels, sep)
  assert(math.type(levels) == "integer" and levels >= 1, "rename.flatten: levels must be a positive integer")
  sep = sep or "-"
  local parts = {}
  for p in name:gmatch("[^/]+") do parts[#parts + 1] = p end
  if #parts <= levels then return M.check(name, "rename.flatten") end
  local out = {}
  for i = 1, levels - 1 do out[i] = parts[i] end
  out[levels] = table.concat(parts, sep, levels)
  return M.check(table.concat(out, "/"), "rename.flatten")
end

--- The last path component: base("quay.io/coreos/etcd") is "etcd".
function M.base(name) return name:match("([^/]+)$") end

--- Applies fn to each name and checks every result: map({"a/x", "b/y"}, fn) -> list.
function M.map(names, fn)
  local out = {}
  for i, n in ipairs(names) do out[i] = M.check(fn(n), "rename.map(" .. n .. ")") end
  return out
end

return M
