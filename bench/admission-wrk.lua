-- wrk script for bench/admission-load.sh: POST one AdmissionReview (bench/admission-review.json,
-- or $BODY) on every request. wrk is closed-loop: it measures throughput and latency at a fixed
-- number of connections, not at a fixed request rate (see the comment in admission-load.rs).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local path = os.getenv("BODY") or "bench/admission-review.json"
local f = assert(io.open(path, "r"))
wrk.body = f:read("*a")
f:close()

local bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"allowed":true', 1, true) then
    bad = bad + 1
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non-200 or not allowed (last thread): %d\n", bad))
end
