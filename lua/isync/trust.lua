-- isync.trust: where a registry's TLS material is found, as docker, podman and skopeo find
-- it. For a registry named HOST[:PORT], each certs.d directory may hold HOST[:PORT]/ with
--   *.crt              CA certificates trusted for that registry (on top of the system store)
--   *.cert + *.key     a client certificate and its key (same base name)
-- The directories, in order: /etc/docker/certs.d, /etc/containers/certs.d,
-- ~/.config/containers/certs.d. ISYNC_CERTS_D (a ':'-separated list) replaces them, for
-- tests and packagers. The system store itself is curl's, or SSL_CERT_FILE / SSL_CERT_DIR
-- when set (src/registry.c).
local M = {}

function M.dirs()
  local env = os.getenv("ISYNC_CERTS_D")
  if env and env ~= "" then
    local out = {}
    for d in env:gmatch("[^:]+") do out[#out + 1] = d end
    return out
  end
  local home = os.getenv("HOME")
  local out = { "/etc/docker/certs.d", "/etc/containers/certs.d" }
  if home and home ~= "" then out[#out + 1] = home .. "/.config/containers/certs.d" end
  return out
end

local core = require "isync.core"

-- The files of a directory, sorted; {} when it does not exist.
local function list(dir) return core.list_dir(dir) or {} end

local function readable(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

--- The TLS material certs.d gives the registry `name`: {ca_files = {...}, cert_file,
--- key_file, found = {dirs}}, nil fields when none. A client certificate without its key
--- is an error naming both files.
function M.for_registry(name)
  local out = { ca_files = {}, found = {} }
  for _, root in ipairs(M.dirs()) do
    local dir = root .. "/" .. name
    local names = list(dir)
    if #names > 0 then out.found[#out.found + 1] = dir end
    for _, f in ipairs(names) do
      if f:match("%.crt$") then
        out.ca_files[#out.ca_files + 1] = dir .. "/" .. f
      elseif f:match("%.cert$") and not out.cert_file then
        local key = dir .. "/" .. f:gsub("%.cert$", ".key")
        if not readable(key) then
          error(("%s/%s: client certificate without its key %s"):format(dir, f, key), 0)
        end
        out.cert_file, out.key_file = dir .. "/" .. f, key
      end
    end
  end
  return out
end

return M
