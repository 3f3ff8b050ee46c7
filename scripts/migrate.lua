-- migrate.lua: copy every tag of some repositories (or of the whole catalog) from one
-- registry to another, digests preserved. The README's demo runs this.
--
--   isync scripts/migrate.lua --from SRC_HOST --to DST_HOST [options] [REPO...]
--
-- options: --plain-http (both sides), --src-plain-http, --dst-plain-http,
--          --ca FILE, --prefix P (destination repo = P/REPO), --jobs N (images at once)
-- credentials: ~/.docker/config.json, or SRC_USER/SRC_PASS and DST_USER/DST_PASS in the
-- environment (never on the command line).
local isync = require "isync"

local opts = { jobs = 4, repos = {} }
local i = 1
while arg[i] do
  local a, inline = arg[i]:match("^(%-%-[%w%-]+)=(.*)$")   -- --flag=value as well
  a = a or arg[i]
  local function value()
    if inline then return inline end
    i = i + 1; return arg[i] or error(a .. " needs a value", 0)
  end
  if a == "--help" or a == "-h" then io.stdout:write(require("isync.args").script_help(arg[0])); return 0
  elseif a == "--from" then opts.from = value()
  elseif a == "--to" then opts.to = value()
  elseif a == "--plain-http" then opts.src_plain, opts.dst_plain = true, true
  elseif a == "--src-plain-http" then opts.src_plain = true
  elseif a == "--dst-plain-http" then opts.dst_plain = true
  elseif a == "--ca" then opts.ca = value()
  elseif a == "--prefix" then opts.prefix = value()
  elseif a == "--jobs" then opts.jobs = math.tointeger(tonumber(value())) or error("--jobs needs a number", 0)
  elseif a:sub(1, 2) == "--" then error("unknown option " .. a, 0)
  else opts.repos[#opts.repos + 1] = a end
  i = i + 1
end
if not opts.from or not opts.to then
  io.stderr:write("usage: isync scripts/migrate.lua --from SRC --to DST [--plain-http] [--prefix P] [REPO...]\n")
  return 2
end

local src = isync.registry(opts.from, { plain_http = opts.src_plain, ca_file = opts.ca,
  username = os.getenv("SRC_USER"), password = os.getenv("SRC_PASS") })
local dst = isync.registry(opts.to, { plain_http = opts.dst_plain, ca_file = opts.ca,
  username = os.getenv("DST_USER"), password = os.getenv("DST_PASS") })

local failed, copied, skipped, bytes = 0, 0, 0, 0
local t0 = isync.monotime()

isync.run(function()
  local repos = opts.repos
  if #repos == 0 then
    local err, code
    repos, err, code = src:catalog()
    if not repos then error("cannot list repositories of " .. opts.from .. ": " .. err .. " (" .. code .. "); name them", 0) end
  end
  -- every (repo, tag) pair, listed concurrently
  local images = {}
  isync.map(repos, 8, function(repo)
    local tags, err = src:tags(repo)
    if not tags then
      failed = failed + 1
      print(("FAILED  %s: %s"):format(repo, err))
      return
    end
    table.sort(tags)
    for _, tag in ipairs(tags) do images[#images + 1] = { repo = repo, tag = tag } end
  end)
  isync.map(images, opts.jobs, function(img)
    local dst_repo = opts.prefix and (opts.prefix .. "/" .. img.repo) or img.repo
    local res, err, code = isync.copy(src, img.repo, img.tag, dst, dst_repo, img.tag)
    local name = img.repo .. ":" .. img.tag
    if not res then
      failed = failed + 1
      print(("FAILED  %s: %s (%s)"):format(name, err, code))
    elseif res.status == "skipped" then
      skipped = skipped + 1
      print(("skipped %s %s (unchanged)"):format(name, res.digest))
    else
      copied = copied + 1
      bytes = bytes + res.stats.bytes
      print(("copied  %s %s (%d blobs copied, %d mounted, %d present)"):format(name, res.digest,
        res.stats.blobs_copied, res.stats.blobs_mounted, res.stats.blobs_skipped))
    end
  end)
end)

local dt = isync.monotime() - t0
print(("%d copied, %d skipped, %d failed; %.1f MB in %.1f s"):format(copied, skipped, failed, bytes / 1e6, dt))
return failed == 0 and 0 or 1
