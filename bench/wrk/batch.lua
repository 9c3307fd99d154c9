-- (c) POST /tracking/v3r2/tracking with 35 items, cycling through the JSON bodies listed one
-- per line in BENCH_BODIES.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local next_request

setup = common.setup

function init(args)
  local requests = {}
  local headers = common.headers({ ["Content-Type"] = "application/json" })
  for i, body in ipairs(common.lines("BENCH_BODIES")) do
    requests[i] = wrk.format("POST", "/tracking/v3r2/tracking", headers, body)
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end

done = common.done
