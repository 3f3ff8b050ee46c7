-- isync.report: the account of a run. Every image ends copied, skipped (unchanged),
-- failed with its reason, or interrupted (Ctrl-C came first); a summary line; a JSON
-- report; and the failed (or the synced) images written in images-file form, so they can be fed back in as input.
local json = require "isync.json"

local M = {}
local Report = {}
Report.__index = Report

function M.new(dry_run)
  return setmetatable({ images = {}, copied = 0, skipped = 0, failed = 0, interrupted = 0, would_copy = 0, bytes = 0,
                        blobs = 0, started = os.time(), dry_run = dry_run or false }, Report)
end

local function human(n)
  local units = { "B", "KB", "MB", "GB", "TB" }
  local i = 1
  while n >= 1000 and i < #units do n = n / 1000; i = i + 1 end
  return i == 1 and ("%d B"):format(math.floor(n)) or ("%.1f %s"):format(n, units[i])
end
M.human = human

--- Records one image's outcome. entry: {source, destination, status, digest, source_digest,
--- reason, code, note, stats, seconds}
function Report:add(entry)
  self.images[#self.images + 1] = entry
  if entry.status == "copied" then self.copied = self.copied + 1
  elseif entry.status == "skipped" then self.skipped = self.skipped + 1
  elseif entry.status == "would copy" then self.would_copy = self.would_copy + 1
  elseif entry.status == "interrupted" then self.interrupted = self.interrupted + 1
  else self.failed = self.failed + 1 end
  local st = entry.stats
  if st then
    self.bytes = self.bytes + (st.bytes or 0)
    self.blobs = self.blobs + (st.blobs_copied or 0)
  end
end

function Report:finish(seconds)
  self.seconds = seconds
  self.rate = seconds > 0 and self.bytes / seconds or 0
  table.sort(self.images, function(a, b)
    if a.source ~= b.source then return a.source < b.source end
    return a.destination < b.destination
  end)
end

function Report:summary()
  local n = #self.images
  if self.dry_run then
    return ("dry run: %d image%s: %d would be copied (%d blobs, %s), %d unchanged, %d failed"):format(
      n, n == 1 and "" or "s", self.would_copy, self.blobs, human(self.bytes), self.skipped, self.failed)
  end
  return ("%d image%s: %d copied, %d skipped, %d failed%s; %s moved in %.1f s (%s/s)"):format(
    n, n == 1 and "" or "s", self.copied, self.skipped, self.failed,
    self.interrupted > 0 and (", %d interrupted"):format(self.interrupted) or "", human(self.bytes), self.seconds or 0,
    human(self.rate or 0))
end

function Report:to_table()
  local images = json.array()
  for i, e in ipairs(self.images) do
    local st = e.stats or {}
    images[i] = { source = e.source, destination = e.destination, status = e.status, digest = e.digest,
                  source_digest = e.source_digest, reason = e.reason, code = e.code, note = e.note,
                  seconds = e.seconds, bytes = st.bytes, blobs_copied = st.blobs_copied,
                  blobs_mounted = st.blobs_mounted, blobs_skipped = st.blobs_skipped,
                  referrers_copied = (st.referrers_copied or 0) > 0 and st.referrers_copied or nil }
  end
  return { summary = self:summary(), copied = self.copied, skipped = self.skipped, failed = self.failed,
           interrupted = self.interrupted > 0 and self.interrupted or nil,
           would_copy = self.dry_run and self.would_copy or nil, bytes = self.bytes, seconds = self.seconds,
           bytes_per_second = math.floor(self.rate or 0), dry_run = self.dry_run, images = images }
end

-- Writes text to path through a temporary file: true, or nil, message, "IO_ERROR".
local function write_file(path, text)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then return nil, "cannot write " .. path .. ": " .. tostring(err), "IO_ERROR" end
  f:write(text)
  f:close()
  local ok, rerr = os.rename(tmp, path)
  if not ok then return nil, "cannot write " .. path .. ": " .. tostring(rerr), "IO_ERROR" end
  return true
end
M.write_file = write_file

function Report:write_json(path)
  return write_file(path, json.encode(self:to_table(), "  ") .. "\n")
end

local function yaml_string(s)
  if s:match("^[%w%./:@_%-]+$") and not s:match("^[%-:@]") then return s end
  return '"' .. s:gsub('[\\"]', "\\%0") .. '"'
end

--- Writes the images with status in `statuses` ({failed = true} ...) as an images file:
--- source -> list of destinations, JSON or YAML.
function Report:write_images(path, statuses, format)
  local map, order = {}, {}
  for _, e in ipairs(self.images) do
    if statuses[e.status] then
      if not map[e.source] then map[e.source] = json.array(); order[#order + 1] = e.source end
      table.insert(map[e.source], e.destination)
    end
  end
  table.sort(order)
  if format == "json" then
    return write_file(path, json.encode(map, "  ") .. "\n")
  end
  local out = {}
  for _, src in ipairs(order) do
    out[#out + 1] = yaml_string(src) .. ":"
    for _, d in ipairs(map[src]) do out[#out + 1] = "  - " .. yaml_string(d) end
  end
  if #order == 0 then out[1] = "{}" end
  return write_file(path, table.concat(out, "\n") .. "\n")
end

return M
