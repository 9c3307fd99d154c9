-- (a) The framework ceiling: GET /bench/constant with the bearer token.
local common = dofile(os.getenv("BENCH_WRK_DIR") .. "/common.lua")
local request_text

setup = common.setup

function init(args)
  request_text = wrk.format("GET", "/bench/constant", common.headers())
end

function request()
  return request_text
end

done = common.done
