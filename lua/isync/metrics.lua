-- isync.metrics: counters, gauges and histograms rendered in Prometheus's text exposition
-- format 0.0.4 (HELP and TYPE lines, labels escaped). isync serve keeps one set and hands
-- its text to the HTTP server, which serves it on /metrics.
local M = {}
local Set = {}
Set.__index = Set

-- Latency buckets from a HEAD on a LAN to a multi-GB blob copy.
M.DEFAULT_BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800 }

function M.new() return setmetatable({ families = {}, order = {}, version = 0 }, Set) end

local function family(self, name, kind, help, buckets)
  local f = self.families[name]
  if f then
    assert(f.kind == kind, name .. " is a " .. f.kind)
    return f
  end
  f = { name = name, kind = kind, help = help, series = {}, keys = {}, buckets = buckets }
  self.families[name] = f
  self.order[#self.order + 1] = name
  return f
end

--- Declares a metric (so it is shown, at 0, before anything happened).
function Set:counter(name, help) family(self, name, "counter", help) end
function Set:gauge(name, help) family(self, name, "gauge", help) end
function Set:histogram(name, help, buckets) family(self, name, "histogram", help, buckets or M.DEFAULT_BUCKETS) end

local function escape(v)
  return (tostring(v):gsub("[\\\"\n]", { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n" }))
end

-- "{a="x",b="y"}" in sorted key order: one series per label set.
local function label_key(labels)
  if not labels or next(labels) == nil then return "" end
  local keys = {}
  for k in pairs(labels) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = ('%s="%s"'):format(k, escape(labels[k])) end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function series(f, labels)
  local key = label_key(labels)
  local s = f.series[key]
  if not s then
    s = { key = key, value = 0 }
    if f.kind == "histogram" then
      s.counts, s.sum, s.count = {}, 0, 0
      for i = 1, #f.buckets do s.counts[i] = 0 end
    end
    f.series[key] = s
    f.keys[#f.keys + 1] = key
    table.sort(f.keys)
  end
  return s
end

function Set:inc(name, labels, n)
  local f = assert(self.families[name], name .. " is not declared")
  local s = series(f, labels)
  s.value = s.value + (n or 1)
  self.version = self.version + 1
end

function Set:set(name, labels, v)
  local f = assert(self.families[name], name .. " is not declared")
  series(f, labels).value = v
  self.version = self.version + 1
end

function Set:observe(name, labels, v)
  local f = assert(self.families[name], name .. " is not declared")
  local s = series(f, labels)
  for i, b in ipairs(f.buckets) do if v <= b then s.counts[i] = s.counts[i] + 1 end end
  s.sum, s.count = s.sum + v, s.count + 1
  self.version = self.version + 1
end

--- The current value of a counter or gauge series (0 when never set).
function Set:get(name, labels)
  local f = self.families[name]
  local s = f and f.series[label_key(labels)]
  return s and (s.count or s.value) or 0
end

local function num(v)
  if v == math.huge then return "+Inf" end
  if math.type(v) == "integer" then return tostring(v) end
  if v == math.floor(v) and math.abs(v) < 2^53 then return ("%d"):format(v) end
  local short = ("%.15g"):format(v)   -- the shortest that reads back the same, as "0.1"
  return tonumber(short) == v and short or ("%.17g"):format(v)
end

-- A histogram series' labels with le added (le last, as Prometheus writes it).
local function with_le(key, le)
  local inner = key == "" and "" or key:sub(2, -2) .. ","
  return "{" .. inner .. 'le="' .. le .. '"}'
end

--- The exposition text.
function Set:render()
  local out = {}
  for _, name in ipairs(self.order) do
    local f = self.families[name]
    out[#out + 1] = ("# HELP %s %s"):format(name, (f.help:gsub("\\", "\\\\"):gsub("\n", "\\n")))
    out[#out + 1] = ("# TYPE %s %s"):format(name, f.kind)
    if f.kind == "histogram" then
      for _, key in ipairs(f.keys) do
        local s = f.series[key]
        for i, b in ipairs(f.buckets) do out[#out + 1] = ("%s_bucket%s %d"):format(name, with_le(key, num(b)), s.counts[i]) end
        out[#out + 1] = ("%s_bucket%s %d"):format(name, with_le(key, "+Inf"), s.count)
        out[#out + 1] = ("%s_sum%s %s"):format(name, key, num(s.sum))
        out[#out + 1] = ("%s_count%s %d"):format(name, key, s.count)
      end
    else
      for _, key in ipairs(f.keys) do out[#out + 1] = ("%s%s %s"):format(name, key, num(f.series[key].value)) end
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
