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
  -- LuaJIT: no bit operators; arithmetic gives the same octets.
  local ip = string.format("10.%d.%d.%d", math.floor(n / 65536) % 256,
    math.floor(n / 256) % 256, n % 256)
  return wrk.format("GET", reqs[math.random(#reqs)], { ["X-Forwarded-For"] = ip })
end
