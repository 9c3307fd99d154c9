-- (b) and (b'): GET /tracking/v3/tracking/{n}?expand=DETAIL, cycling through the authorized,
-- stored numbers listed one per line in BENCH_NUMBERS, so lookups hit different rows.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local next_request

setup = common.setup

function init(args)
  local requests = {}
  local headers = common.headers()
  for i, number in ipairs(common.lines("BENCH_NUMBERS")) do
    requests[i] = wrk.format("GET", "/tracking/v3/tracking/" .. number .. "?expand=DETAIL", headers)
  end
  next_request = common.cycle(requests)
end

function request()
  return next_request()
end

done = common.done
