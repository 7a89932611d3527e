-- wrk script: every request carries the next token of a file (one JWT per line), cycling.
-- Usage: wrk ... -s tokens.lua URL -- TOKEN_FILE [START_INDEX]
-- With one wrk thread (-t1, as run.sh uses) the tokens are sent in file order, so when the
-- file holds more tokens than the gateway's cache (10000 per worker, LRU) every request
-- misses it. At the end, prints "next_index N": pass it as START_INDEX to the next run so
-- consecutive runs continue the cycle instead of replaying tokens still in a cache.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(args[1], "usage: -- TOKEN_FILE [START_INDEX]")
  reqs = {}
  for line in io.lines(file) do
    if #line > 0 then
      reqs[#reqs + 1] = wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. line })
    end
  end
  assert(#reqs > 0, "no tokens in " .. file)
  idx = tonumber(args[2] or "0") % #reqs   -- 0-based: the next token sent is reqs[idx + 1]
end

function request()
  local r = reqs[idx + 1]
  idx = (idx + 1) % #reqs
  return r
end

function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    io.write(string.format("next_index %d\n", t:get("idx")))
  end
end
