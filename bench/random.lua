-- Requests a uniformly random existing slug. SLUGS names the slug file.
local reqs = {}
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    local slug = line:match("^([^\t]+)")
    reqs[#reqs + 1] = wrk.format("GET", "/" .. slug)
  end
end
request = function()
  return reqs[math.random(#reqs)]
end
