-- Shared helpers for the integration specs: the registries started by tests/run
-- (tests/tools/registry-env, described by ISYNC_T_* variables), the image builder and the
-- independent verifier (tests/tools/*.py, which share no code with isync).
local isync = require "isync"
local json = require "isync.json"

local H = {}

H.root = os.getenv("ISYNC_ROOT") or "."
H.bin = os.getenv("ISYNC_BIN") or (H.root .. "/build/bin/isync")
H.sanitized = os.getenv("ISYNC_SANITIZED") == "1"

function H.env(name)
  local v = os.getenv(name)
  assert(v and v ~= "", name .. " is not set: run the integration specs through tests/run")
  return v
end

-- Per-registry connection settings, for isync and for the Python tools.
function H.target(kind)
  local addr = H.env("ISYNC_T_" .. kind:upper())
  local t = { kind = kind, addr = addr }
  if kind:match("^plain") or kind:match("^urls") then
    t.isync = { plain_http = true }
    t.tool = { "--plain-http" }
  else
    t.isync = { ca_file = H.env("ISYNC_T_CA") }
    t.tool = { "--ca", H.env("ISYNC_T_CA") }
    if kind == "basic" or kind == "token" then
      t.isync.username = H.env("ISYNC_T_USER")
      t.isync.password = H.env("ISYNC_T_PASS")
      t.tool[#t.tool + 1] = "--user"
      t.tool[#t.tool + 1] = H.env("ISYNC_T_USER")
      t.tool[#t.tool + 1] = "--password-env"
      t.tool[#t.tool + 1] = "ISYNC_T_PASS"
    end
  end
  t.isync.docker_config = false
  return t
end

function H.registry(kind, extra)
  local t = H.target(kind)
  local opts = {}
  for k, v in pairs(t.isync) do opts[k] = v end
  for k, v in pairs(extra or {}) do opts[k] = v end
  return isync.registry(t.addr, opts)
end

local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function H.sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1")
  local out = p:read("a")
  local ok, _, code = p:close()
  return ok == true, out, code
end

-- Unique names so specs never see each other's images.
local counter = 0
function H.unique(prefix)
  counter = counter + 1
  return ("%s%d%d"):format(prefix, os.time() % 100000, counter)
end

--- mkimage.py SUBCOMMAND args... against a registry kind; returns the decoded JSON.
function H.mkimage(kind, ...)
  local t = H.target(kind)
  local parts = { "python3", q(H.root .. "/tests/tools/mkimage.py"), "--registry", q(t.addr) }
  for _, a in ipairs(t.tool) do parts[#parts + 1] = q(a) end
  for _, a in ipairs({ ... }) do parts[#parts + 1] = q(a) end
  local ok, out = H.sh(table.concat(parts, " "))
  assert(ok, "mkimage failed: " .. out)
  return assert(json.decode(out:match("[^\n]*\n?$") ~= "" and out:match("([^\n]+)\n?$") or out))
end

--- verify.py compare: true when the destination matches the source exactly.
function H.verify(src_kind, src_repo, src_ref, dst_kind, dst_repo, dst_ref)
  local s, d = H.target(src_kind), H.target(dst_kind)
  local parts = { "python3", q(H.root .. "/tests/tools/verify.py"), "compare",
    "--src", q(s.addr), "--src-repo", q(src_repo), "--src-ref", q(src_ref),
    "--dst", q(d.addr), "--dst-repo", q(dst_repo), "--dst-ref", q(dst_ref) }
  for i, a in ipairs(s.tool) do parts[#parts + 1] = (i % 2 == 1 and a:sub(1, 2) == "--") and ("--src-" .. a:sub(3)) or q(a) end
  for i, a in ipairs(d.tool) do parts[#parts + 1] = (i % 2 == 1 and a:sub(1, 2) == "--") and ("--dst-" .. a:sub(3)) or q(a) end
  local ok, out = H.sh(table.concat(parts, " "))
  return ok, out
end

--- Runs the isync host with a script and arguments; returns ok, output, exit code.
function H.isync(args, env)
  local prefix = ""
  for k, v in pairs(env or {}) do prefix = prefix .. k .. "=" .. q(v) .. " " end
  return H.sh(prefix .. q(H.bin) .. " " .. args)
end

--- A scratch directory, removed by the caller with H.rm.
function H.tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. q(d)))
  return d
end
function H.rm(path) os.execute("rm -rf " .. q(path)) end

function H.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

function H.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

--- Access-log position of a registry kind, then the requests logged after it:
--- a list of {method, path, status}.
function H.log_mark(kind)
  local s = H.read(H.env("ISYNC_T_DIR") .. "/" .. kind .. ".log") or ""
  return #s
end
function H.requests_since(kind, mark)
  local s = H.read(H.env("ISYNC_T_DIR") .. "/" .. kind .. ".log") or ""
  local out = {}
  for line in s:sub(mark + 1):gmatch("[^\n]+") do
    local method, path, status = line:match('"(%u+) (%S+) HTTP/[%d.]+" (%d+)')
    if method then out[#out + 1] = { method = method, path = path, status = tonumber(status) } end
  end
  return out
end

--- Counts requests matching method (nil = any) and a plain path fragment.
function H.count(reqs, method, fragment)
  local n = 0
  for _, r in ipairs(reqs) do
    if (not method or r.method == method) and (not fragment or r.path:find(fragment, 1, true)) then n = n + 1 end
  end
  return n
end

--- tests/tools/faultproxy.py in front of a registry kind (ARGS: its fault options);
--- returns {pid, addr, log, store}.
function H.start_proxy(upstream_kind, dir, name, args)
  local portfile = dir .. "/" .. name .. ".port"
  local log = dir .. "/" .. name .. ".log"
  local cmd = ("python3 %s --upstream %s --port-file %s --log %s %s"):format(
    q(H.root .. "/tests/tools/faultproxy.py"), H.env("ISYNC_T_" .. upstream_kind:upper()), q(portfile), q(log), args)
  local _, out = H.sh(("nohup %s >/dev/null 2>&1 & echo $!"):format(cmd))
  local pid = assert(tonumber(out:match("(%d+)")), out)
  for _ = 1, 100 do
    if H.read(portfile) then break end
    H.sh("sleep 0.05")
  end
  local port = assert(H.read(portfile), "the fault proxy did not start"):match("(%d+)")
  return { pid = pid, addr = "127.0.0.1:" .. port, log = log, store = H.read(portfile .. ".store") }
end

function H.stop_proxy(p) H.sh("kill " .. p.pid .. " 2>/dev/null; sleep 0.2") end

H.q = q
return H
