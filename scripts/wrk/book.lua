-- wrk script: durable one-shot bookings, each with a fresh Idempotency-Key
-- and a free seat. Shows and tokens come from files written by load.sh.
-- Several wrk processes at once (scripts/scaling.sh) each get WRK_PROCS
-- and their WRK_OFFSET, so their seats never meet, and a WRK_KEY_PREFIX of
-- their own; ROWS_PER_SHOW is the shows' rows of 999 seats (default 100).
local counter = 0
local thread_id = 0
local threads = 0
local tokens = {}
local shows = {}
local next_id = 0
local procs = 1
local offset = 0
local seats_per_show = 99900
local key_prefix = "load"

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
  procs = tonumber(os.getenv("WRK_PROCS") or "1")
  offset = tonumber(os.getenv("WRK_OFFSET") or "0")
  seats_per_show = 999 * tonumber(os.getenv("ROWS_PER_SHOW") or "100")
  key_prefix = os.getenv("WRK_KEY_PREFIX") or "load"
end

local function row_label(row)
  local first = math.floor(row / 26)
  return string.char(65 + first) .. string.char(65 + row % 26)
end

request = function()
  local index = (counter * threads + thread_id) * procs + offset
  counter = counter + 1
  local show = shows[math.floor(index / seats_per_show) % #shows + 1]
  local rest = index % seats_per_show
  local seat = row_label(math.floor(rest / 999)) .. tostring(rest % 999 + 1)
  local token = tokens[index % #tokens + 1]
  local body = '{"show_id":"' .. show .. '","seats":["' .. seat .. '"]}'
  local headers = {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = key_prefix .. "-" .. thread_id .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/bookings", headers, body)
end

-- With WRK_STATUSES=1: non-2xx answers by status, printed at the end (wrk
-- alone only counts them). Off by default: a response hook costs wrk time.
local threads_seen = {}
local refused = {}

local previous_setup = setup
setup = function(thread)
  previous_setup(thread)
  table.insert(threads_seen, thread)
end

local count_statuses = function(status, headers, body)
  if status >= 300 then
    local key = "s" .. status
    refused[key] = (refused[key] or 0) + 1
    _G[key] = refused[key]
  end
end

if os.getenv("WRK_STATUSES") == "1" then
  response = count_statuses
end

done = function(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads_seen) do
    for _, status in ipairs({400, 404, 409, 422, 429, 500, 503}) do
      local count = thread:get("s" .. status)
      if count then totals[status] = (totals[status] or 0) + count end
    end
  end
  for status, count in pairs(totals) do
    io.write(string.format("status %d: %d\n", status, count))
  end
end
