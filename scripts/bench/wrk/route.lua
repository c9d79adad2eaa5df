-- wrk script of `api-latency` (crates/billing-bench/src/bin/api-latency.rs): exactly N requests
-- to one route, each timed here from sending to the parsed answer, and one JSON line from done().
--
--   wrk -t C -c C -d 300s --timeout 30s -s scripts/bench/wrk/route.lua URL -- \
--       REQUESTS C METHOD TOKEN_FILE|- BODY_FILE|- EVENTS_FILE|-
--
-- One connection per thread (-t C -c C), so in each thread's Lua state request() and response()
-- strictly alternate and a request's latency is the time between the two (monotonic clock, via
-- LuaJIT's ffi). wrk's own latency histogram is not used: wrk 4 adds synthetic samples to it
-- (coordinated-omission correction), so its percentiles are not those of the N requests made.
--
-- The REQUESTS are split over the C threads (thread k of C, numbered by setup(), gets
-- REQUESTS / C, one more for k < REQUESTS % C); a thread stops itself
-- after its quota of answers and prints `API_LATENCY_THREAD_DONE <id>` at once. wrk's main thread
-- sleeps for -d whatever the threads do: the caller sends wrk SIGINT once every thread is done,
-- which ends the sleep and runs done().
--
-- TOKEN_FILE: a file of bearer tokens, one a line, or `-`: thread k sends line k + 1 (modulo the
-- lines) as `Authorization: Bearer ...`, so each connection can be another signed-in user.
-- BODY_FILE: a file holding the request body (sent with `content-type: application/json`), or `-`.
-- EVENTS_FILE: signed Stripe webhook deliveries, one a line, `<Stripe-Signature>\t<body>`; each
-- request sends the next one (thread k sends lines first_k .. first_k + quota_k - 1, so no line
-- is sent twice while REQUESTS <= lines), or `-`.
--
-- done() prints one line: `API_LATENCY_JSON {...}` with requests (answers timed), non_2xx, the
-- count per status, p50_us/p90_us/p99_us (nearest rank over every request) max_us, min_us,
-- mean_us, duration_us (first send to last answer), events_sent and wrk's own counters.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } api_latency_timespec;
int clock_gettime(int clock_id, api_latency_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local timespec = ffi.new("api_latency_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
  return tonumber(timespec.tv_sec) * 1e6 + tonumber(timespec.tv_nsec) / 1e3
end

local function read_file(path)
  if path == nil or path == "-" then
    return nil
  end
  local f = assert(io.open(path, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

-- Setup (wrk's main Lua state): each thread's number, in creation order from 0.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

-- Running (one Lua state per thread).
function init(args)
  local total = assert(tonumber(args[1]), "REQUESTS")
  local count = assert(tonumber(args[2]), "C")
  local method = args[3]
  local token = read_file(args[4])
  local body = read_file(args[5])
  local events_text = read_file(args[6])

  -- This thread's share of the requests, and of the event lines.
  local base, extra = math.floor(total / count), total % count
  quota = base + (id < extra and 1 or 0)
  first = id * base + math.min(id, extra)
  samples = {}
  statuses = {}
  answered = 0
  non_2xx = 0
  started_at = nil
  finished_at = nil
  events_sent = 0

  local headers = {}
  for k, v in pairs(wrk.headers) do
    headers[k] = v
  end
  if token then
    local tokens = {}
    for line in token:gmatch("[^\n]+") do
      table.insert(tokens, line)
    end
    assert(#tokens > 0, "no token in the token file")
    headers["Authorization"] = "Bearer " .. tokens[id % #tokens + 1]
  end
  if body then
    headers["Content-Type"] = "application/json"
  end

  if events_text then
    events = {}
    local index = 0
    for line in events_text:gmatch("[^\n]+") do
      if index >= first and index < first + quota then
        local signature, payload = line:match("^([^\t]+)\t(.+)$")
        assert(signature, "event line " .. index .. " is not <signature>\\t<body>")
        local h = {}
        for k, v in pairs(headers) do
          h[k] = v
        end
        h["Content-Type"] = "application/json; charset=utf-8"
        h["Stripe-Signature"] = signature
        table.insert(events, wrk.format(method, wrk.path, h, payload))
      end
      index = index + 1
    end
    assert(#events >= quota, "thread " .. id .. " has " .. #events .. " events for a quota of " .. quota)
  else
    fixed = wrk.format(method, wrk.path, headers, body)
  end
end

-- wrk calls request() once more than it sends, on thread 0 before the run (to check that the
-- request parses), so nothing here counts requests: the event sent is the one after the last
-- answered, and a thread's start is the sending of its first answered request.
function request()
  sent_at = now_us()
  if events then
    return events[answered + 1] or events[#events]
  end
  return fixed
end

function response(status, headers, body)
  if answered >= quota then
    return
  end
  local t = now_us()
  answered = answered + 1
  if answered == 1 then
    started_at = sent_at
  end
  samples[answered] = t - sent_at
  if events then
    events_sent = answered
  end
  finished_at = t
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status < 200 or status > 299 then
    non_2xx = non_2xx + 1
  end
  if answered == quota then
    io.write("API_LATENCY_THREAD_DONE " .. id .. "\n")
    io.flush()
    wrk.thread:stop()
  end
end

-- Done (wrk's main Lua state again): every thread's samples, percentiles, one JSON line.
local function nearest_rank(sorted, p)
  local n = #sorted
  if n == 0 then
    return 0
  end
  local rank = math.ceil(p / 100 * n)
  if rank < 1 then
    rank = 1
  end
  return sorted[rank]
end

function done(summary, latency, requests)
  local all = {}
  local counts = {}
  local non = 0
  local first_start, last_end
  local sent_events = 0
  for _, thread in ipairs(threads) do
    for _, v in ipairs(thread:get("samples") or {}) do
      table.insert(all, v)
    end
    for k, v in pairs(thread:get("statuses") or {}) do
      counts[k] = (counts[k] or 0) + v
    end
    non = non + (thread:get("non_2xx") or 0)
    sent_events = sent_events + (thread:get("events_sent") or 0)
    local s, e = thread:get("started_at"), thread:get("finished_at")
    if s and (first_start == nil or s < first_start) then
      first_start = s
    end
    if e and (last_end == nil or e > last_end) then
      last_end = e
    end
  end
  table.sort(all)
  local sum = 0
  for _, v in ipairs(all) do
    sum = sum + v
  end
  local parts = {}
  for k, v in pairs(counts) do
    table.insert(parts, string.format('"%s":%d', k, v))
  end
  table.sort(parts)
  local e = summary.errors
  io.write(string.format(
    'API_LATENCY_JSON {"requests":%d,"non_2xx":%d,"statuses":{%s},"p50_us":%.1f,"p90_us":%.1f,' ..
    '"p99_us":%.1f,"max_us":%.1f,"min_us":%.1f,"mean_us":%.1f,"duration_us":%.1f,"threads":%d,' ..
    '"events_sent":%d,"wrk":{"completed":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d}}\n',
    #all, non, table.concat(parts, ","),
    nearest_rank(all, 50), nearest_rank(all, 90), nearest_rank(all, 99),
    all[#all] or 0, all[1] or 0, #all > 0 and sum / #all or 0,
    (first_start and last_end) and (last_end - first_start) or 0, #threads,
    sent_events, summary.requests, e.connect, e.read, e.write, e.timeout, e.status))
  io.flush()
end
