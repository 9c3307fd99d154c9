-- Shared by the benchmark's wrk scripts (bench/api_server.py runs them).
-- Environment: BENCH_TOKEN (the bearer token), BENCH_WRK_DIR (this folder), and per script
-- the file of tracking numbers or request bodies to cycle through.
local common = {}

function common.headers(extra)
  local headers = { ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
  for name, value in pairs(extra or {}) do headers[name] = value end
  return headers
end

function common.lines(variable)
  local path = os.getenv(variable)
  local items = {}
  for line in io.lines(path) do
    if line ~= "" then items[#items + 1] = line end
  end
  assert(#items > 0, path .. " is empty")
  return items
end

-- Each wrk thread starts at its own offset in the list, so threads do not ask for the same
-- rows in lockstep; `thread_index` is set by common.setup in the main Lua state.
local counter = 0
function common.setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

function common.cycle(requests)
  local cursor = ((thread_index or 0) * 7919) % #requests
  return function()
    cursor = cursor % #requests + 1
    return requests[cursor]
  end
end

-- One machine-readable line for the Python side; latencies in microseconds.
function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "bytes": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "status_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end

return common
