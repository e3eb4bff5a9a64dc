-- Requests random 6-character slugs that almost surely do not exist.
local chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
request = function()
  local s = {}
  for i = 1, 6 do
    local j = math.random(62)
    s[i] = chars:sub(j, j)
  end
  return wrk.format("GET", "/" .. table.concat(s))
end
