-- GET /api/v1/videos/{id} with the first account's session cookie (as the dashboard does).
local dir = os.getenv("BENCH_DIR")
local ids = {}
for line in io.lines(dir .. "/video-ids.txt") do ids[#ids + 1] = line end
local token = io.open(dir .. "/session.txt"):read("*l"):match("^(%S+)")
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", "/api/v1/videos/" .. ids[(n % #ids) + 1], { ["Cookie"] = "phim_session=" .. token })
end
