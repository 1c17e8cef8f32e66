-- GET /api/v1/videos?limit=20: the first page of the first bench account's gallery.
local key = io.open(os.getenv("BENCH_DIR") .. "/api-key.txt"):read("*a")
request = function()
  return wrk.format("GET", "/api/v1/videos?limit=20", { ["Authorization"] = "Bearer " .. key })
end
