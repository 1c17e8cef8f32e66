-- GET /api/v1/videos/{id} for the first bench account's videos, in turn.
local ids = {}
for line in io.lines(os.getenv("BENCH_DIR") .. "/video-ids.txt") do ids[#ids + 1] = line end
local key = io.open(os.getenv("BENCH_DIR") .. "/api-key.txt"):read("*a")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/videos/" .. ids[(n % #ids) + 1], { ["Authorization"] = "Bearer " .. key })
end
