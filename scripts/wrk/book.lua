-- wrk script: durable one-shot bookings, each with a fresh Idempotency-Key
-- and a free seat. Shows and tokens come from files written by load.sh.
local counter = 0
local thread_id = 0
local threads = 0
local tokens = {}
local shows = {}
local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then table.insert(out, line) end
  end
  return out
end

function init(args)
  thread_id = id
  threads = tonumber(os.getenv("WRK_THREADS") or "2")
  tokens = lines(os.getenv("LOAD_DIR") .. "/tokens")
  shows = lines(os.getenv("LOAD_DIR") .. "/shows")
end

local function row_label(row)
  local first = math.floor(row / 26)
  return string.char(65 + first) .. string.char(65 + row % 26)
end

request = function()
  local index = counter * threads + thread_id
  counter = counter + 1
  local show = shows[math.floor(index / 99900) % #shows + 1]
  local rest = index % 99900
  local seat = row_label(math.floor(rest / 999)) .. tostring(rest % 999 + 1)
  local token = tokens[index % #tokens + 1]
  local body = '{"show_id":"' .. show .. '","seats":["' .. seat .. '"]}'
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = "load-" .. thread_id .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/bookings", headers, body)
end
