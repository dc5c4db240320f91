-- Reads and writes mixed, as an app's clients make them: of every 10 requests,
-- 2 create a record, 5 read the latest 30, 3 read one record made earlier
-- (ids from the creates' answers). Under the path prefix PREFIX (e.g. /soak).
local prefix = os.getenv("PREFIX") or "/soak"
local ids = {}
local n = 0
math.randomseed(os.time())
request = function()
  n = n + 1
  local k = n % 10
  if k < 2 or #ids == 0 then
    -- Headers given to wrk.format replace wrk's own (-H): copy them.
    local headers = {["Content-Type"] = "application/json"}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    return wrk.format("POST", prefix, headers,
      '{"text":"soak lorem ipsum dolor sit amet","n":' .. n .. '}')
  elseif k < 7 then
    return wrk.format("GET", prefix .. "?sortBy=createdAt%20desc&pageSize=30")
  else
    return wrk.format("GET", prefix .. "/" .. ids[math.random(#ids)])
  end
end
response = function(status, headers, body)
  if status == 201 and #ids < 10000 then
    local id = body:match('"_id":"([^"]+)"')
    if id then ids[#ids + 1] = id end
  end
end
