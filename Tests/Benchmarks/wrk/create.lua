-- POST /api/v1/videos: hold the price, ask the provider (the simulator, over HTTP on loopback),
-- record its task. The simulated jobs outlast the run, so no callbacks come back meanwhile.
local key = io.open(os.getenv("BENCH_DIR") .. "/api-key.txt"):read("*l")
local body = '{"prompt": "A paper boat drifts across a puddle at dusk #slow"}'
request = function()
  return wrk.format("POST", "/api/v1/videos", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
