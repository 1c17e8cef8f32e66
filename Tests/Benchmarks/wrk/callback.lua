-- POST progress callbacks to the waiting videos in turn, each round a point higher (51 to 98),
-- so most are news the service must write.
local paths, tasks = {}, {}
for line in io.lines(os.getenv("BENCH_DIR") .. "/callbacks.txt") do
  local path, task = line:match("^(%S+) (%S+)")
  paths[#paths + 1] = path
  tasks[#tasks + 1] = task
end
local n = 0
request = function()
  n = n + 1
  local i = (n % #paths) + 1
  local progress = 51 + math.floor(n / #paths) % 48
  local body = '{"code":200,"msg":"progress","data":{"taskId":"' .. tasks[i] .. '","state":"generating","progress":' .. progress .. '}}'
  return wrk.format("POST", paths[i], { ["Content-Type"] = "application/json" }, body)
end
