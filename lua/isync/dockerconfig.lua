-- isync.dockerconfig: credentials the way podman, skopeo and docker find them. The files, in
-- the order containers-auth.json(5) gives (the first that has the registry wins):
--   $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json,
--   ${XDG_CONFIG_HOME:-~/.config}/containers/auth.json, then docker's
--   $DOCKER_CONFIG/config.json or ~/.docker/config.json.
-- Each holds `auths` (and, docker's, `credHelpers` / `credsStore` through
-- `docker-credential-NAME get`). Secrets stay in memory: never in argv, logs or errors.
local json = require "isync.json"
local core = require "isync.core"

local M = {}

-- Docker Hub's keys: the one docker login writes, then each of its names (util/ref.c)
local HUB_KEYS = { "https://index.docker.io/v1/" }
for _, name in ipairs(core.dockerhub_names) do HUB_KEYS[#HUB_KEYS + 1] = name end

local function config_path()
  local dir = os.getenv("DOCKER_CONFIG")
  if dir and dir ~= "" then return dir .. "/config.json" end
  local home = os.getenv("HOME")
  return home and (home .. "/.docker/config.json") or nil
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

local function b64decode(s)
  local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  s = s:gsub("[^%w%+/=]", "")
  local out, bits, nbits = {}, 0, 0
  for c in s:gmatch(".") do
    if c == "=" then break end
    local v = alphabet:find(c, 1, true) - 1
    bits = (bits << 6) | v
    nbits = nbits + 6
    if nbits >= 8 then
      nbits = nbits - 8
      out[#out + 1] = string.char((bits >> nbits) & 0xFF)
    end
  end
  return table.concat(out)
end
M.b64decode = b64decode

local function shell_quote(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

--- Asks docker-credential-NAME for the server's credentials. The server name goes in on
--- stdin (printf is a shell builtin, so nothing secret ever is an argument).
function M.from_helper(helper, server)
  if not helper:match("^[%w%._%-]+$") then return nil, "invalid credential helper name '" .. helper .. "'" end
  local cmd = "printf '%s' " .. shell_quote(server) .. " | docker-credential-" .. helper .. " get 2>/dev/null"
  local p = io.popen(cmd, "r")
  if not p then return nil, "cannot run docker-credential-" .. helper end
  local out = p:read("a")
  local ok = p:close()
  if not ok then return nil, "docker-credential-" .. helper .. " has no credentials for " .. server end
  local doc = json.decode(out)
  if type(doc) ~= "table" or type(doc.Secret) ~= "string" then
    return nil, "docker-credential-" .. helper .. " gave an unreadable answer for " .. server
  end
  return { username = type(doc.Username) == "string" and doc.Username or nil, password = doc.Secret }
end

local function keys_for(host)
  if core.canonical_name(host) == "docker.io" then return HUB_KEYS end
  return { host, "https://" .. host, "http://" .. host, "https://" .. host .. "/v2/", "https://" .. host .. "/v1/" }
end

--- Credentials for a registry host from a parsed config document, or nil.
function M.lookup(doc, host)
  if type(doc) ~= "table" then return nil end
  local keys = keys_for(host)
  if type(doc.credHelpers) == "table" then
    for _, k in ipairs(keys) do
      local helper = doc.credHelpers[k]
      if type(helper) == "string" then return M.from_helper(helper, k) end
    end
  end
  local auths = type(doc.auths) == "table" and doc.auths or {}
  for _, k in ipairs(keys) do
    local a = auths[k]
    if type(a) == "table" then
      if type(a.identitytoken) == "string" and a.identitytoken ~= "" then
        return { username = "<token>", password = a.identitytoken }
      end
      if type(a.auth) == "string" and a.auth ~= "" then
        local plain = b64decode(a.auth)
        local user, pass = plain:match("^([^:]*):(.*)$")
        if user then return { username = user, password = pass } end
        return nil, "malformed 'auth' entry for " .. k .. " in docker config"
      end
      if type(a.username) == "string" then return { username = a.username, password = a.password } end
    end
  end
  if type(doc.credsStore) == "string" and doc.credsStore ~= "" then
    local creds = M.from_helper(doc.credsStore, keys[1])
    if creds then return creds end
  end
  return nil
end

--- The credential files searched, in order (whether they exist or not).
function M.files()
  local out = {}
  local function add(p) if p and p ~= "" then out[#out + 1] = p end end
  add(os.getenv("REGISTRY_AUTH_FILE"))
  local run = os.getenv("XDG_RUNTIME_DIR")
  if run and run ~= "" then add(run .. "/containers/auth.json") end
  local cfg, home = os.getenv("XDG_CONFIG_HOME"), os.getenv("HOME")
  if (not cfg or cfg == "") and home and home ~= "" then cfg = home .. "/.config" end
  if cfg and cfg ~= "" then add(cfg .. "/containers/auth.json") end
  add(config_path())
  return out
end

local function from_file(path, host)
  local text = read_file(path)
  if not text then return nil end
  local doc = json.decode(text)
  if type(doc) ~= "table" or doc == json.null then return nil, "cannot parse " .. path .. ": not valid JSON" end
  return M.lookup(doc, host)
end

--- Credentials for host ({username, password, source = the file}) from path, or from the
--- first of M.files() that has some; nil (and a message when a file is unreadable).
function M.credentials(host, path)
  for _, p in ipairs(path and { path } or M.files()) do
    local creds, err = from_file(p, host)
    if err then return nil, err end
    if creds then creds.source = p; return creds end
  end
  return nil
end

return M
