-- Asks the stats route STATS_PATH with the API key KEY.
local path = os.getenv("STATS_PATH")
local key = os.getenv("KEY")
request = function()
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. key })
end
