-- isync.args: the small command-line parser the example policies share, so each script
-- reads as its policy and not as option handling.
--
--   local o = isync.args(arg, { from = "HOST", to = "HOST", n = 3, ["plain-http"] = false })
--   -- o.from, o.to, o.n (a number because the default is), o.plain_http, o[1..] positional
local M = {}

--- A script's help: its leading comment block (the scripts document their flags there, so
--- --help and the source cannot disagree). nil when the file has no such block.
function M.script_help(path)
  local f = path and io.open(path, "r")
  if not f then return nil end
  local lines = {}
  for line in f:lines() do
    local text = line:match("^%-%-%s?(.*)$")
    if not text then break end
    lines[#lines + 1] = text
  end
  f:close()
  return #lines > 0 and (table.concat(lines, "\n") .. "\n") or nil
end

--- spec: option name -> default (false: a flag; a number: a numeric option; a string or
--- "HOST"-like placeholder: a string option; a table: a repeatable option). Missing options
--- whose default is a placeholder in capitals are required. Raises a one-line error.
function M.parse(argv, spec, usage)
  local o = {}
  for k, v in pairs(spec) do
    local key = k:gsub("%-", "_")
    if type(v) == "table" then o[key] = {} elseif v ~= false and not (type(v) == "string" and v:match("^%u[%u_]*$")) then o[key] = v end
  end
  local i = 1
  while argv[i] do
    local a = argv[i]
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if a == "--help" or a == "-h" then
      io.stdout:write(usage or M.script_help(argv[0]) or "see the comment at the top of the script\n")
      os.exit(0)
    elseif name then
      local d = spec[name]
      if d == nil then error("unknown option --" .. name .. (usage and ("\n" .. usage) or ""), 0) end
      local key = name:gsub("%-", "_")
      if d == false then
        o[key] = true
      else
        local v = inline
        if not v then i = i + 1; v = argv[i] end
        if v == nil then error("--" .. name .. " needs a value", 0) end
        if type(d) == "number" then
          v = tonumber(v) or error("--" .. name .. " needs a number, not " .. v, 0)
        end
        if type(d) == "table" then table.insert(o[key], v) else o[key] = v end
      end
    else
      o[#o + 1] = a
    end
    i = i + 1
  end
  for k, v in pairs(spec) do
    local key = k:gsub("%-", "_")
    if type(v) == "string" and v:match("^%u[%u_]*$") and o[key] == nil then
      error("--" .. k .. " " .. v .. " is needed" .. (usage and ("\n" .. usage) or ""), 0)
    end
  end
  return o
end

--- The registries a script names with --from / --to (and --plain-http, --ca, --insecure):
--- credentials from ~/.docker/config.json or SRC_USER/SRC_PASS, DST_USER/DST_PASS. A host
--- written as http://HOST or https://HOST sets its own scheme, whatever --plain-http says.
function M.registries(o)
  local isync = require "isync"
  local function open(host, side)
    local scheme, bare = host:match("^(https?)://(.+)$")
    local plain = o.plain_http
    if scheme then plain, host = scheme == "http", bare end
    return isync.registry(host, { plain_http = plain, ca_file = o.ca, skip_verify = o.insecure,
      username = os.getenv(side .. "_USER"), password = os.getenv(side .. "_PASS") })
  end
  local dsts = {}
  for h in tostring(o.to or ""):gmatch("[^,]+") do dsts[#dsts + 1] = open(h, "DST") end
  return open(o.from, "SRC"), dsts[1], dsts
end

return M
