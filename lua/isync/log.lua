-- isync.log: where a run's messages go. On a terminal: failures and the summary, plus a
-- live progress line (isync.progress). In a log file or a pipe: plain timestamped lines.
-- level: "quiet" (failures and summary), "info" (one line per image), "verbose" (retries,
-- blob-level detail too).
local core = require "isync.core"

local M = {}
local Log = {}
Log.__index = Log

local LEVELS = { quiet = 1, info = 2, verbose = 3 }

--- opts: file (path, truncated), level, tty (force the live-line mode on/off)
function M.new(opts)
  opts = opts or {}
  local self = setmetatable({ level = LEVELS[opts.level or "info"] or 2 }, Log)
  if opts.file then
    local f, err = io.open(opts.file, "w")
    if not f then error("cannot open log file " .. opts.file .. ": " .. tostring(err), 0) end
    f:setvbuf("line")
    self.out, self.tty = f, false
  else
    self.out = io.stderr
    if opts.tty == nil then self.tty = core.isatty(2) else self.tty = opts.tty end
  end
  return self
end

function Log:_write(line)
  if self.tty then
    self.out:write("\r\27[K", line, "\n")   -- over the live line
    if self.status then self.out:write(self.status) end
  else
    self.out:write(os.date("!%Y-%m-%dT%H:%M:%SZ "), line, "\n")
  end
  self.out:flush()
end

function Log:error(line) self:_write(line) end
function Log:info(line) if self.level >= 2 then self:_write(line) end end
function Log:verbose(line) if self.level >= 3 then self:_write(line) end end
function Log:summary(line) self:_write(line) end

--- The live status line (terminal only; a log file gets periodic info lines instead).
function Log:set_status(line)
  if not self.tty then return end
  self.status = line
  self.out:write("\r\27[K", line)
  self.out:flush()
end

function Log:clear_status()
  if self.tty and self.status then self.out:write("\r\27[K"); self.out:flush() end
  self.status = nil
end

function Log:close()
  self:clear_status()
  if self.out ~= io.stderr then self.out:close() end
end

return M
