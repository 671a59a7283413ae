#!/usr/bin/env bash
# Load benchmark of `stockade admission serve`: TLS on loopback, real AdmissionReviews.
#
# 1. Fixed request rates (open loop) with bench/admission-load.rs, the number that matters for
#    an admission webhook: latency at the rate the API server sends.
# 2. If wrk is installed (Debian package `wrk`), closed-loop throughput at fixed connection
#    counts with bench/admission-wrk.lua, for comparison.
#
# 3. Large reviews under load (issue 17): a 3 MB AdmissionReview (the API server's own request
#    limit; a restricted-clean pod of many containers, so allowed) sent LARGE_RATE times a
#    second while BIG_LOAD_RATE req/s of the normal review continue; reports the latency of
#    both, and the server's resident memory: baseline, peak (VmHWM) and 5 s after the load.
#    Before that, the same 3 MB review alone (LARGE_RATE/s for LARGE_ALONE_SECONDS, nothing
#    else): its latency and the server's CPU time per review (utime + stime from /proc), the
#    cost to read beside wall times measured on a loaded machine.
#
# Environment: RATES ("1000 2000 4000"), SECONDS_PER_RATE (10), CONNECTIONS (8), PORT (18443),
# SERVER_THREADS (server worker threads; default one per core), WRK_CONNECTIONS ("1 16 64";
# empty: no wrk runs), NICE (0), LARGE_RATE (2; 0: no large-review run), BIG_LOAD_RATE (2000),
# LARGE_SECONDS (20), LARGE_ALONE_SECONDS (10; 0: no run alone), STOCKADE and LOADGEN (see below).
# Everything runs on 127.0.0.1 and stops by itself.
set -euo pipefail
cd "$(dirname "$0")/.."

RATES=${RATES:-"1000 2000 4000"}
SECONDS_PER_RATE=${SECONDS_PER_RATE:-10}
CONNECTIONS=${CONNECTIONS:-8}
PORT=${PORT:-18443}
WRK_CONNECTIONS=${WRK_CONNECTIONS-"1 16 64"}
# NICE=-10 (root) runs server and load generator above other work on the machine, to measure
# the webhook rather than a concurrent compile; 0 (default) leaves priorities alone.
NICE=${NICE:-0}
nice_cmd=()
[[ "$NICE" != 0 ]] && nice_cmd=(nice -n "$NICE")

# STOCKADE and LOADGEN name binaries built already (both or neither); otherwise both are built.
if [[ -n "${STOCKADE:-}" && -n "${LOADGEN:-}" ]]; then
  bin=$STOCKADE
  load=$LOADGEN
else
  cargo build --release --quiet -p stockade
  cargo build --release --quiet -p stockade-admission --example admission-load
  bin=target/release/stockade
  load=target/release/examples/admission-load
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

"$bin" admission certs --out "$work/tls" >/dev/null
threads=()
[[ -n "${SERVER_THREADS:-}" ]] && threads=(--threads "$SERVER_THREADS")
"${nice_cmd[@]}" "$bin" admission serve --tls-dir "$work/tls" --listen "127.0.0.1:$PORT" --log-level warn "${threads[@]}" \
  2>"$work/server.log" &
pid=$!

for _ in $(seq 1 100); do
  curl -sf --cacert "$work/tls/ca.crt" "https://localhost:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -sf --cacert "$work/tls/ca.crt" "https://localhost:$PORT/healthz" >/dev/null

echo "# machine: $(nproc) cores, $(uname -sr); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# server: $bin admission serve (release), rustls/ring, TLS 1.3, HTTP/1.1 keep-alive"
echo "# load average before: $(cut -d" " -f1-3 /proc/loadavg); connections $CONNECTIONS; server threads ${SERVER_THREADS:-default}; nice $NICE"
status=0
for rate in $RATES; do
  echo
  echo "## open loop: $rate req/s"
  "${nice_cmd[@]}" "$load" --addr "127.0.0.1:$PORT" --ca "$work/tls/ca.crt" --rate "$rate" \
    --seconds "$SECONDS_PER_RATE" --connections "$CONNECTIONS" \
    --path /validate/restricted --body bench/admission-review.json || status=1
done

if [[ -z "$WRK_CONNECTIONS" ]]; then
  :
elif command -v wrk >/dev/null 2>&1; then
  for c in $WRK_CONNECTIONS; do
    echo
    echo "## closed loop (wrk): $c connections, 10 s"
    wrk -t "$(( c < 2 ? 1 : 2 ))" -c "$c" -d 10s --latency -s bench/admission-wrk.lua \
      "https://127.0.0.1:$PORT/validate/restricted" | sed -n '/Latency Distribution/,$p'
  done
else
  echo
  echo "# wrk not installed (apt-get install wrk): closed-loop runs skipped"
fi

LARGE_RATE=${LARGE_RATE:-2}
BIG_LOAD_RATE=${BIG_LOAD_RATE:-2000}
LARGE_SECONDS=${LARGE_SECONDS:-20}
LARGE_ALONE_SECONDS=${LARGE_ALONE_SECONDS:-10}
rss_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$pid/status"; }
# The server's CPU time so far (user + system), in milliseconds.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print ($12 + $13) * 1000 / hz}' "/proc/$pid/stat"; }
# Requests answered (any status) in a load generator's output.
answered() { awk '$1 == "requests" {print $2}' "$1"; }
if [[ "$LARGE_RATE" != 0 ]]; then
  # The normal review's pod with its containers repeated up to just under 3 MiB.
  python3 - "$work/large.json" <<'PY'
import copy, json, sys
r = json.load(open("bench/admission-review.json"))
spec = r["request"]["object"]["spec"]
one = spec["containers"][0]
limit = 3 * 1024 * 1024 - 4096
containers = []
while True:
    c = copy.deepcopy(one)
    c["name"] = "c%d" % len(containers)
    containers.append(c)
    if len(containers) % 500 == 0:
        spec["containers"] = containers
        if len(json.dumps(r)) > limit:
            containers = containers[:-500]
            break
while True:
    c = copy.deepcopy(one)
    c["name"] = "c%d" % len(containers)
    spec["containers"] = containers + [c]
    if len(json.dumps(r)) > limit:
        break
    containers.append(c)
spec["containers"] = containers
open(sys.argv[1], "w").write(json.dumps(r))
PY
  echo
  echo "## large reviews: $(stat -c %s "$work/large.json") bytes ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["request"]["object"]["spec"]["containers"]))' "$work/large.json") containers) at $LARGE_RATE/s while $BIG_LOAD_RATE req/s of the normal review continue, $LARGE_SECONDS s"
  if [[ "$LARGE_ALONE_SECONDS" != 0 ]]; then
    echo
    echo "### 3 MB reviews alone, $LARGE_RATE/s, $LARGE_ALONE_SECONDS s (load average before: $(cut -d" " -f1-3 /proc/loadavg))"
    c0=$(cpu_ms)
    "${nice_cmd[@]}" "$load" --addr "127.0.0.1:$PORT" --ca "$work/tls/ca.crt" --rate "$LARGE_RATE" \
      --seconds "$LARGE_ALONE_SECONDS" --connections 2 --warmup 0 \
      --path /validate/restricted --body "$work/large.json" >"$work/alone.out" 2>&1 || status=1
    c1=$(cpu_ms)
    cat "$work/alone.out"
    n=$(answered "$work/alone.out")
    echo "server CPU: $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN {printf "%.0f ms for %d reviews: %.1f ms per 3 MB review", b - a, n, (b - a) / (n > 0 ? n : 1)}')"
  fi
  sleep 2
  base=$(rss_kb VmRSS)
  echo
  echo "### under load (load average before: $(cut -d" " -f1-3 /proc/loadavg))"
  c0=$(cpu_ms)
  "${nice_cmd[@]}" "$load" --addr "127.0.0.1:$PORT" --ca "$work/tls/ca.crt" --rate "$BIG_LOAD_RATE" \
    --seconds "$LARGE_SECONDS" --connections "$CONNECTIONS" \
    --path /validate/restricted --body bench/admission-review.json >"$work/normal.out" 2>&1 &
  normal=$!
  "${nice_cmd[@]}" "$load" --addr "127.0.0.1:$PORT" --ca "$work/tls/ca.crt" --rate "$LARGE_RATE" \
    --seconds "$LARGE_SECONDS" --connections 2 --warmup 0 \
    --path /validate/restricted --body "$work/large.json" >"$work/large.out" 2>&1 || status=1
  wait "$normal" || status=1
  c1=$(cpu_ms)
  echo "### normal reviews meanwhile"; cat "$work/normal.out"
  echo "### 3 MB reviews"; cat "$work/large.out"
  peak=$(rss_kb VmHWM)
  sleep 5
  after=$(rss_kb VmRSS)
  echo "### server CPU during the load: $(awk -v a="$c0" -v b="$c1" -v s="$LARGE_SECONDS" 'BEGIN {printf "%.0f ms in %d s (%.2f cores)", b - a, s, (b - a) / 1000 / s}')"
  echo "### server memory: baseline ${base} kB, peak ${peak} kB, 5 s after the load ${after} kB (after/baseline $(awk -v a="$after" -v b="$base" 'BEGIN {printf "%.2f", a / b}'))"
fi

echo
echo "## server-side latency histogram (/metrics)"
curl -sf --cacert "$work/tls/ca.crt" "https://localhost:$PORT/metrics" \
  | grep -E '^stockade_admission_(request_duration_seconds_(bucket|count)\{endpoint="validate/restricted"|requests_total|bad_requests|connections_rejected)' \
  | grep -E 'le="(0.0001|0.00025|0.0005|0.001|0.0025|\+Inf)"|_count|requests_total|bad_requests|rejected' || true
exit $status
