-- isync.ledger: what this machine knows about destinations, kept across runs.
--
-- Facts: blob D is in repository R of registry B; image B/R:ref was synced at digest D.
-- They save requests (a blob known present is not HEADed) and pick mount sources (a blob
-- known in another repository of the same registry is mounted). They are hints, never
-- trusted blindly: a manifest PUT that says a blob is missing makes the caller forget the
-- facts and check for real. On disk it is an append-only log (isync.core ledger), so a
-- crash loses at most the last record, and a torn record is ignored on load.
local core = require "isync.core"
local check = require "isync.check"

local M = {}
local Ledger = {}
Ledger.__index = Ledger

local SEP = "\t"

local function default_path()
  local state = os.getenv("XDG_STATE_HOME")
  if not state or state == "" then state = (os.getenv("HOME") or ".") .. "/.local/state" end
  return state .. "/isync/ledger"
end
M.default_path = default_path

local function mkdir_p(dir)
  -- directories only; the path is quoted, nothing secret is in it
  return os.execute("mkdir -p '" .. dir:gsub("'", "'\\''") .. "' 2>/dev/null")
end

--- Opens (creating) the ledger at path (default: $XDG_STATE_HOME/isync/ledger).
--- Returns the ledger, or nil, message, "LEDGER". A path that is not a string raises.
function M.open(path)
  if path ~= nil and type(path) ~= "string" then
    check.fail("isync.ledger: the path must be a string, not a " .. type(path))
  end
  path = path or default_path()
  -- the directory is made only when the open fails: mkdir -p forks a shell (~5 ms of a
  -- no-op re-sync) and the directory is there on every run but the first
  local file, err, code = core.ledger_open(path)
  local dir = path:match("^(.*)/[^/]*$")
  if not file and dir and dir ~= "" then
    mkdir_p(dir)
    file, err, code = core.ledger_open(path)
  end
  if not file then return nil, err, code end
  local self = setmetatable({ path = path, file = file, blobs = {}, images = {}, live = 0, skipped = 0 }, Ledger)
  -- each record is applied as it is read: no table of every record ever written
  local skipped, lerr, lcode = file:load(function(rec) self:_apply(rec) end)
  if not skipped then file:close(); return nil, lerr, lcode end
  self.skipped = skipped
  return self
end

function Ledger:_apply(rec)
  local kind, a, b, c = rec:match("^(%a)\t([^\t]*)\t([^\t]*)\t?([^\t]*)$")
  if kind == "B" then         -- B base repo digest
    self.blobs[a] = self.blobs[a] or {}
    local repos = self.blobs[a][c] or {}
    self.blobs[a][c] = repos
    if not repos[b] then repos[b] = true; self.live = self.live + 1 end
  elseif kind == "F" then     -- F base repo digest: forget
    local repos = self.blobs[a] and self.blobs[a][c]
    if repos and repos[b] then repos[b] = nil; self.live = self.live - 1 end
  elseif kind == "I" then     -- I base/repo:ref digest
    if not self.images[a] then self.live = self.live + 1 end
    self.images[a] = b
  end
end

-- The open file; using a closed ledger is misuse.
function Ledger:_file()
  if not self.file then check.fail("isync.ledger: the ledger " .. self.path .. " is closed") end
  return self.file
end

-- A record that cannot be written raises (not nil, message, code): the facts already
-- applied would be lost, and a ledger that cannot be written must stop the run.
function Ledger:_record(rec)
  local file = self:_file()
  self:_apply(rec)
  local ok, err = file:append(rec)
  if not ok then error(err, 0) end
end

function Ledger:has_blob(base, repo, digest)
  local repos = self.blobs[base] and self.blobs[base][digest]
  return repos and repos[repo] or false
end

--- Repositories of registry base known to hold digest (mount sources).
function Ledger:blob_repos(base, digest)
  local out = {}
  for repo in pairs((self.blobs[base] or {})[digest] or {}) do out[#out + 1] = repo end
  table.sort(out)
  return out
end

function Ledger:add_blob(base, repo, digest)
  if not self:has_blob(base, repo, digest) then self:_record(table.concat({ "B", base, repo, digest }, SEP)) end
end

function Ledger:forget_blob(base, repo, digest)
  if self:has_blob(base, repo, digest) then self:_record(table.concat({ "F", base, repo, digest }, SEP)) end
end

function Ledger:image(key) return self.images[key] end

function Ledger:set_image(key, digest)
  if self.images[key] ~= digest then self:_record(table.concat({ "I", key, digest }, SEP)) end
end

--- The live facts, one record each (for compaction).
function Ledger:_snapshot()
  local out = {}
  for base, digests in pairs(self.blobs) do
    for digest, repos in pairs(digests) do
      for repo in pairs(repos) do out[#out + 1] = table.concat({ "B", base, repo, digest }, SEP) end
    end
  end
  for key, digest in pairs(self.images) do out[#out + 1] = table.concat({ "I", key, digest }, SEP) end
  table.sort(out)
  return out
end

--- Flushes to disk; rewrites the file when it holds far more records than live facts.
--- true, or nil, message, "LEDGER".
function Ledger:sync()
  local file = self:_file()
  if file:appended() > 1000 and file:appended() > 2 * self.live then return file:compact(self:_snapshot()) end
  return file:sync()
end

--- Syncs and closes; true, or nil, message, "LEDGER" when the last sync failed (closed
--- either way). Closing again does nothing and returns true.
function Ledger:close()
  if not self.file then return true end
  local ok, err, code = self:sync()
  self.file:close()
  self.file = nil
  if not ok then return nil, err, code end
  return true
end

M.Ledger = Ledger
return M
