-- isync.cli: what the isync command line means. main.c calls main(argv) protected and
-- turns a raised error into one line on stderr and exit status 1.
local core = require "isync.core"

local M = {}

M.USAGE = [[
usage: isync [--trace] SCRIPT.lua [ARGS...]   run a sync policy written in Lua
       isync --images FILE [--auth FILE] [flags]  image-syncer's files and flags
       isync cp SRC DST        copy one image, every platform, digest preserved
       isync ls REPO           list tags (--digests for their digests)
       isync inspect REF       media type, digest, size, platforms, referrers
       isync serve CONFIG      keep a mirror in sync: passes, registry webhooks, /metrics
       isync worker --queue URL  sync the pairs of a work queue (many machines)
       isync status --queue URL  a work queue's progress, report and failed images
       isync help [COMMAND]    this text, or a command's flags (= isync COMMAND --help)
       isync version           the version (= isync --version)

  SCRIPT.lua  a Lua 5.4 script; `require "isync"` gives the API (see README.md).
              `arg` is set as the stock lua interpreter sets it.
  --trace     print a traceback with errors (or set ISYNC_TRACE=1)

Examples:
  isync scripts/migrate.lua --from 127.0.0.1:5000 --to 127.0.0.1:5001 --plain-http app/web
]]

function M.run_script(argv, i)
  local script = argv[i]
  local chunk, err = loadfile(script)
  if not chunk then
    -- loadfile's message already names the file and line
    error(err, 0)
  end
  local a = { [-1] = argv[0], [0] = script }
  for k = i + 1, #argv do a[#a + 1] = argv[k] end
  for k = 1, i - 1 do a[-(i - k) - 1] = argv[k] end
  arg = a   -- luacheck: ignore (the interpreter's global, as lua.c sets it)
  local r = chunk(table.unpack(a, 1, #a))
  -- a task spawned and never waited for may have failed: say so, and fail the run (a
  -- script that raised fails anyway; its own error is the one to read)
  local lost = require("isync.sched").unseen_errors()
  for _, e in ipairs(lost) do
    io.stderr:write("isync: a task nobody waited for failed: ", require("isync.log").clean(tostring(e)), "\n")
  end
  if #lost > 0 and (r == nil or r == true or r == 0) then return 1 end
  if math.type(r) == "integer" then return r end
  if r == false then return 1 end
  return 0
end

local COMPAT = { ["--auth"] = true, ["--images"] = true, ["--config"] = true }

function M.main(argv)
  for k = 1, #argv do
    local flag = argv[k]:match("^(%-%-%a+)=") or argv[k]
    if COMPAT[flag] then
      local args = {}
      for j = 1, #argv do if argv[j] ~= "--trace" then args[#args + 1] = argv[j] end end
      return require("isync.compat.imagesyncer").main(args)
    end
    if flag:sub(1, 1) ~= "-" then break end
  end
  local first = argv[1] == "--trace" and 2 or 1
  local cmd = argv[first]
  if cmd == "help" then
    local topic = argv[first + 1]
    local commands = require("isync.commands")
    if topic == nil then io.stdout:write(M.USAGE, "\n", commands.EXIT_CODES); return 0 end
    if commands.HELP[topic] then io.stdout:write(commands.HELP[topic]); return 0 end
    if topic == "images" or topic == "image-syncer" then io.stdout:write(require("isync.compat.imagesyncer").USAGE); return 0 end
    io.stderr:write("isync: no help for '", topic, "' (commands: cp, ls, inspect, serve, worker, status, images)\n")
    return 2
  end
  if cmd == "version" then io.stdout:write("isync ", core.version, "\n"); return 0 end
  if cmd == "cp" or cmd == "ls" or cmd == "inspect" or cmd == "serve" or cmd == "worker" or cmd == "status" then
    local args = {}
    for j = first + 1, #argv do args[#args + 1] = argv[j] end
    return require("isync.commands")[cmd](args)
  end
  local i = 1
  while argv[i] do
    local a = argv[i]
    if a == "--help" or a == "-h" then
      io.stdout:write(M.USAGE, "\n", require("isync.compat.imagesyncer").USAGE, "\n", require("isync.commands").EXIT_CODES)
      return 0
    elseif a == "--version" then
      io.stdout:write("isync ", core.version, "\n")
      return 0
    elseif a == "--trace" then
      i = i + 1
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      io.stderr:write("isync: unknown option ", a, " (see isync --help)\n")
      return 2
    else
      return M.run_script(argv, i)
    end
  end
  io.stderr:write(M.USAGE)
  return 2
end

return M
