-- Requests slugs that do not exist, picked at random from a fixed set
-- (ABSENT names the file, one slug a line): a flood that comes back to
-- slugs already known absent, which the negative cache answers.
local reqs = {}
init = function(args)
  for line in io.lines(os.getenv("ABSENT")) do
    reqs[#reqs + 1] = wrk.format("GET", "/" .. line)
  end
end
request = function()
  return reqs[math.random(#reqs)]
end
