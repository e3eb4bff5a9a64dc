-- POSTs a wrong password to one protected link. SLUG names it.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.body = "password=wrong-guess"
request = function()
  return wrk.format(nil, "/" .. os.getenv("SLUG"))
end
