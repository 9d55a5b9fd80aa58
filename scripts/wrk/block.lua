-- wrk script: house-seat blocks by the box office (admin token), one seat
-- each, with a fresh Idempotency-Key and a seat nobody else asks for; the
-- cost of a block set beside a booking's (scripts/box-office-load.sh).
-- The show and admin token come from files the script writes.
local counter = 0
local thread_id = 0
local threads = 2
local next_id = 0
local show = ""
local admin = ""
local key_prefix = "block"

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  thread_id = id
  threads = tonumber(os.getenv("WRK_THREADS") or "2")
  show = io.open(os.getenv("LOAD_DIR") .. "/block_show"):read("*l")
  admin = os.getenv("ADMIN_TOKEN")
  key_prefix = os.getenv("WRK_KEY_PREFIX") or "block"
end

local function row_label(row)
  return string.char(65 + math.floor(row / 26)) .. string.char(65 + row % 26)
end

request = function()
  local index = counter * threads + thread_id
  counter = counter + 1
  local rest = index % 99900
  local seat = row_label(math.floor(rest / 999)) .. tostring(rest % 999 + 1)
  local headers = {
    ["Authorization"] = "Bearer " .. admin,
    ["Idempotency-Key"] = key_prefix .. "-" .. thread_id .. "-" .. counter,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/v1/shows/" .. show .. "/blocks", headers,
    '{"seats":["' .. seat .. '"],"reason":"load"}')
end
