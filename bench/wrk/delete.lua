-- DELETE the ids of the file named by IDS in order, each once, starting after the
-- first SKIP of them (the ones earlier runs deleted), under the path prefix PREFIX.
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end
local prefix = os.getenv("PREFIX")
local next_id = tonumber(os.getenv("SKIP") or "0") + 1
request = function()
  local id = ids[next_id] or "exhausted"  -- answered 404: the harness then reports too few ids
  next_id = next_id + 1
  return wrk.format("DELETE", prefix .. id)
end
