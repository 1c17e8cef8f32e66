-- POST /api/v1/videos: hold, provider call (the simulator on loopback), insert.
local key = io.open(os.getenv("BENCH_DIR") .. "/api-key.txt"):read("*a")
local body = '{"prompt": "A paper boat drifts across a puddle at dusk #slow"}'
request = function()
  return wrk.format("POST", "/api/v1/videos", { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
response = function(status, headers, body)
  if status ~= 202 then errors_seen = (errors_seen or 0) + 1 end
end
