-- Creates links through the API, each to a new URL. KEY is an API key.
local counter = 0
local key = os.getenv("KEY")
request = function()
  counter = counter + 1
  local body = '{"url":"https://example.com/new/' .. counter .. '-' .. math.random(1e9) .. '"}'
  return wrk.format("POST", "/api/v1/links",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }, body)
end
