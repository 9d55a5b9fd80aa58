-- wrk script: cancels of confirmed bookings, each booking once, by its
-- owner or by the box office (CANCEL_AS=admin); lines of
-- "booking-id owner-token" come from $LOAD_DIR/$CANCEL_FILE, a thread's
-- share of them interleaved. A thread past its share cancels its last one
-- again (a 204 that changes nothing): give it enough lines for the run.
local counter = 0
local thread_id = 0
local threads = 2
local next_id = 0
local lines = {}
local admin = nil

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  thread_id = id
  threads = tonumber(os.getenv("WRK_THREADS") or "2")
  for line in io.lines(os.getenv("LOAD_DIR") .. "/" .. os.getenv("CANCEL_FILE")) do
    if line ~= "" then table.insert(lines, line) end
  end
  if os.getenv("CANCEL_AS") == "admin" then admin = os.getenv("ADMIN_TOKEN") end
end

request = function()
  local index = math.min(counter * threads + thread_id, #lines - 1)
  counter = counter + 1
  local id, token = string.match(lines[index + 1], "(%S+) (%S+)")
  return wrk.format("DELETE", "/v1/bookings/" .. id,
    { ["Authorization"] = "Bearer " .. (admin or token) })
end
