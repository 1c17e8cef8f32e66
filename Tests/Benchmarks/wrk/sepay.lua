-- POST /api/v1/payments/sepay as SePay posts it: one transfer per line of sepay.txt, each paying
-- its own order. The two threads take alternate lines; past the last line they start again, and
-- every post from then on is a redelivery.
local dir = os.getenv("BENCH_DIR")
local key = io.open(dir .. "/key.txt"):read("*l")
local bodies = {}
for line in io.lines(dir .. "/sepay.txt") do bodies[#bodies + 1] = line end
local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local n = 0
request = function()
  local line = (n * 2 + id) % #bodies + 1
  n = n + 1
  return wrk.format("POST", "/api/v1/payments/sepay", { ["Authorization"] = "Apikey " .. key, ["Content-Type"] = "application/json" },
                    bodies[line])
end
