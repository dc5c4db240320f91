-- PATCH a random id from the file named by IDS, under the path prefix PREFIX.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local prefix = os.getenv("PREFIX")
local body = '{"text":"patched message lorem ipsum dolor sit amet"}'
wrk.headers["Content-Type"] = "application/json"
math.randomseed(os.time())
request = function()
  -- nil headers: wrk.format then sends wrk.headers, which holds the -H ones too
  return wrk.format("PATCH", prefix .. ids[math.random(#ids)], nil, body)
end
