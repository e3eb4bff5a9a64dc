-- Requests random 6-character slugs that almost surely do not exist and
-- never repeat: a scanner walking the slug space. No cache can answer
-- these; the store is asked every time (issue 11's 404 budget limits it).
local chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
request = function()
  local s = {}
  for i = 1, 6 do
    local j = math.random(62)
    s[i] = chars:sub(j, j)
  end
  return wrk.format("GET", "/" .. table.concat(s))
end
