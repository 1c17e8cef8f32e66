-- GET /api/v1/videos?limit=24: the first page of the first account's gallery (what the studio loads).
local key = io.open(os.getenv("BENCH_DIR") .. "/api-key.txt"):read("*l")
request = function()
  return wrk.format("GET", "/api/v1/videos?limit=24", { ["Authorization"] = "Bearer " .. key })
end
