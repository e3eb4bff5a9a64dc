-- Requests every slug once, in file order (then again): fills a cache with
-- all of them, for the RSS figure. SLUGS names the slug file.
local reqs = {}
local n = 0
local i = 0
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    n = n + 1
    reqs[n] = wrk.format("GET", "/" .. line:match("^([^\t]+)"))
  end
end
request = function()
  i = i % n + 1
  return reqs[i]
end
