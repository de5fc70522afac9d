-- wrk script for the throughput benchmark: one request shape per run, chosen by
-- BENCH_ROUTE (list, create, session, signin), against the user `bench serve` seeded.
local route = os.getenv("BENCH_ROUTE")
local user = os.getenv("BENCH_USER")
local token = os.getenv("BENCH_TOKEN")

wrk.headers["Content-Type"] = "application/json"
if route == "list" then
  wrk.method = "GET"
  wrk.path = "/api/" .. user .. "/tasks"
  wrk.headers["Authorization"] = "Bearer " .. token
elseif route == "create" then
  wrk.method = "POST"
  wrk.path = "/api/" .. user .. "/tasks"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.body = '{"title": "Benchmark task", "description": "Created under load"}'
elseif route == "session" then
  wrk.method = "GET"
  wrk.path = "/api/auth/session"
  wrk.headers["Authorization"] = "Bearer " .. token
elseif route == "signin" then
  wrk.method = "POST"
  wrk.path = "/api/auth/signin"
  wrk.body = '{"email": "' .. os.getenv("BENCH_EMAIL") .. '", "password": "' .. os.getenv("BENCH_PASSWORD") .. '"}'
else
  error("BENCH_ROUTE must be list, create, session or signin")
end

-- One machine-readable line: requests, seconds, p50/p90/p99 in microseconds, and
-- every answer that was not 2xx (wrk counts them; the run script fails on any).
function done(summary, latency, requests)
  io.write(string.format("BENCH %d %.3f %d %d %d %d %d\n",
    summary.requests, summary.duration / 1e6,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    summary.errors.status, summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout))
end
