-- wrk script: every request carries an allowed Origin; odd requests are CORS preflights
-- (OPTIONS + Access-Control-Request-Method/-Headers, answered by the gateway itself), even
-- ones are simple GETs forwarded upstream. Origins cycle through the list given, e.g.
-- one exact-match origin and several that only a regex allows.
-- Usage: wrk ... -s cors.lua URL -- ORIGIN [ORIGIN ...]
function init(args)
  assert(#args > 0, "usage: -- ORIGIN [ORIGIN ...]")
  reqs = {}
  for _, origin in ipairs(args) do
    reqs[#reqs + 1] = wrk.format("GET", wrk.path, { ["Origin"] = origin })
    reqs[#reqs + 1] = wrk.format("OPTIONS", wrk.path, {
      ["Origin"] = origin,
      ["Access-Control-Request-Method"] = "POST",
      ["Access-Control-Request-Headers"] = "content-type, authorization",
    })
  end
  idx = 0
end

function request()
  local r = reqs[idx + 1]
  idx = (idx + 1) % #reqs
  return r
end
