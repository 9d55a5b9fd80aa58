-- wrk script: the same booking request again and again: after the first,
-- every answer is a stored replay (Idempotent-Replayed: true).
local body
local headers

function init(args)
  local dir = os.getenv("LOAD_DIR")
  local token = io.lines(dir .. "/tokens")()
  local show = io.lines(dir .. "/replay_show")()
  body = '{"show_id":"' .. show .. '","seats":["A1"]}'
  headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "load-replay",
    ["Content-Type"] = "application/json",
  }
end

request = function()
  return wrk.format("POST", "/v1/bookings", headers, body)
end
