-- wrk script of the ops API benchmark: GET /v1/vehicles/{id}/schedule for a
-- random one of D2EV_BENCH_VEHICLES ids (bench-000000 ...), with a bearer
-- token; prints one machine-readable RESULT line at the end.
local n = tonumber(os.getenv("D2EV_BENCH_VEHICLES") or "100000")
local token = os.getenv("D2EV_BENCH_TOKEN") or ""
local headers = { ["Authorization"] = "Bearer " .. token }

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end

function init(args)
  math.randomseed(os.time() * 1000 + (seed or 0))
end

function request()
  local id = string.format("bench-%06d", math.random(0, n - 1))
  return wrk.format("GET", "/v1/vehicles/" .. id .. "/schedule", headers)
end

function done(summary, latency, requests)
  local s = summary.duration / 1e6
  io.write(string.format(
    "RESULT requests=%d seconds=%.2f rps=%.0f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f non2xx=%d errors=%d bytes=%d\n",
    summary.requests, s, summary.requests / s, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.bytes))
end
