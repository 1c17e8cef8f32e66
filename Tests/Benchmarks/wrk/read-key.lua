-- GET /api/v1/videos/{id} with the first account's API key, over its videos in turn.
local dir = os.getenv("BENCH_DIR")
local ids = {}
for line in io.lines(dir .. "/video-ids.txt") do ids[#ids + 1] = line end
local key = io.open(dir .. "/api-key.txt"):read("*l")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/videos/" .. ids[(n % #ids) + 1], { ["Authorization"] = "Bearer " .. key })
end
