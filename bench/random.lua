-- Requests a uniformly random existing slug. SLUGS names the slug file.
-- With BROWSER=1, each request carries the headers a browser sends (user
-- agent, referrer, accept, language); kurz reads the first two for clicks.
local reqs = {}
local headers = nil
if os.getenv("BROWSER") == "1" then
  headers = {
    ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    ["Referer"] = "https://news.example.com/item?id=41234567",
    ["Accept"] = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    ["Accept-Language"] = "en-US,en;q=0.9",
  }
end
init = function(args)
  for line in io.lines(os.getenv("SLUGS")) do
    local slug = line:match("^([^\t]+)")
    reqs[#reqs + 1] = wrk.format("GET", "/" .. slug, headers)
  end
end
request = function()
  return reqs[math.random(#reqs)]
end
