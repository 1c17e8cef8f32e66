-- POST /api/v1/videos from 100 accounts in turn: hold the price, ask the provider (the simulator,
-- over HTTP on loopback), record its task. The simulated jobs outlast the run, so no callbacks
-- come back meanwhile.
local keys = {}
for line in io.lines(os.getenv("BENCH_DIR") .. "/keys.txt") do keys[#keys + 1] = line end
local body = '{"prompt": "A paper boat drifts across a puddle at dusk #slow"}'
local n = 0
request = function()
  n = n + 1
  return wrk.format("POST", "/api/v1/videos", { ["Authorization"] = "Bearer " .. keys[(n % #keys) + 1], ["Content-Type"] = "application/json" }, body)
end
