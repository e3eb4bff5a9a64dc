-- Requests slugs with a Zipf-like distribution (s = 1): the k-th slug is
-- asked about 1/k as often as the first, like real short-link traffic.
local reqs = {}
local n = 0
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    local slug = line:match("^([^\t]+)")
    n = n + 1
    reqs[n] = wrk.format("GET", "/" .. slug)
  end
end
request = function()
  -- Inverse of the continuous approximation of the harmonic CDF.
  local k = math.floor(math.exp(math.random() * math.log(n + 1)))
  if k < 1 then k = 1 elseif k > n then k = n end
  return reqs[k]
end
