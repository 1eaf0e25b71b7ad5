-- wrk script: each thread POSTs its own pre-signed bodies in turn.
-- File format (one request a line): "<signature>\t<body>".
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end

function init(args)
  sigs, bodies, i = {}, {}, 0
  local f = assert(io.open(args[1] .. "." .. tid, "r"))
  for line in f:lines() do
    local s, b = line:match("^(%S+)\t(.*)$")
    sigs[#sigs + 1] = s
    bodies[#bodies + 1] = b
  end
  f:close()
end

function request()
  i = i % #bodies + 1
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["X-Hub-Signature-256"] = sigs[i],
  }, bodies[i])
end
