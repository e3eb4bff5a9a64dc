-- Requests every slug of SLUGS (one a line; a tab ends the slug) once, in
-- file order, then stops sending and creates the file DONE: one store
-- lookup per slug, after which a cache knows each of them. wrk itself runs
-- on until -d or a SIGINT, which prints the figures of the pass (the
-- caller sends it once DONE exists). One wrk thread.
local reqs = {}
local n = 0
local sent = 0
local answered = 0
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    n = n + 1
    reqs[n] = wrk.format("GET", "/" .. line:match("^([^\t]+)"))
  end
end
request = function()
  sent = sent % n + 1
  return reqs[sent]
end
response = function(status, headers, body)
  answered = answered + 1
  if answered == n then
    io.open(os.getenv("DONE"), "w"):close()
    wrk.thread:stop()
  end
end
