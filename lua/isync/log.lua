-- isync.log: where a run's messages go. On a terminal: failures and the summary, plus a
-- live progress line (isync.progress). In a log file or a pipe: plain timestamped lines.
-- level: "quiet" (failures and summary), "info" (one line per image), "verbose" (retries,
-- blob-level detail too).
local core = require "isync.core"
local check = require "isync.check"

local M = {}
local Log = {}
Log.__index = Log

local LEVELS = { quiet = 1, info = 2, verbose = 3 }

--- opts: file (path, truncated), level, tty (force the live-line mode on/off)
function M.new(opts)
  opts = check.options(opts, { "file", "level", "tty" }, "isync.log options")
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

--- One line, safe for a terminal: registry-provided text (names, error messages) may carry
--- escape sequences. C0 controls and DEL become "?" (tab, CR and LF a space: a message is
--- one line), and so do C1 controls (U+0080..U+009F, which some terminals obey) and bytes
--- that are not valid UTF-8; other UTF-8 text is kept.
function M.clean(s)
  s = tostring(s)
  if not s:find("[%c\128-\255]") then return s end
  local out, i, n = {}, 1, #s
  while i <= n do
    local b = s:byte(i)
    if b == 9 or b == 10 or b == 13 then out[#out + 1] = " "; i = i + 1
    elseif b < 0x20 or b == 0x7f then out[#out + 1] = "?"; i = i + 1
    elseif b < 0x80 then
      local j = s:find("[%c\128-\255]", i) or n + 1
      out[#out + 1] = s:sub(i, j - 1); i = j
    else
      local len = (b >= 0xc2 and b <= 0xdf) and 2 or (b >= 0xe0 and b <= 0xef) and 3 or (b >= 0xf0 and b <= 0xf4) and 4 or 0
      local seq = len > 0 and s:sub(i, i + len - 1)
      local cp = seq and #seq == len and utf8.len(seq) == 1 and utf8.codepoint(seq)
      if not cp then out[#out + 1] = "?"; i = i + 1
      elseif cp <= 0x9f then out[#out + 1] = "?"; i = i + len   -- a C1 control
      else out[#out + 1] = seq; i = i + len end
    end
  end
  return table.concat(out)
end

function Log:_write(line)
  line = M.clean(line)
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
