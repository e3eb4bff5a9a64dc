-- Existing slugs, each request from a new forwarded address (a million
-- distinct clients through a trusted proxy): the limiter's memory under a
-- flood of addresses. SLUGS names the slug file.
local reqs = {}
local n = 0
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    local slug = line:match("^([^\t]+)")
    reqs[#reqs + 1] = "/" .. slug
  end
end
request = function()
  n = n + 1
  local ip = string.format("10.%d.%d.%d", (n >> 16) & 255, (n >> 8) & 255, n & 255)
  return wrk.format("GET", reqs[math.random(#reqs)], { ["X-Forwarded-For"] = ip })
end
