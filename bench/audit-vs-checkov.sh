#!/usr/bin/env bash
# Audit throughput: stockade on a generated corpus of N manifests and, in the same run, Checkov
# on a subset of it (Checkov is far slower; the subset keeps the run short). Prints manifests per
# second for both, the ratio, and stockade's peak resident memory.
#
# Each tool runs several times, alternately (RUNS, default 5, for stockade on the full corpus;
# CHECKOV_RUNS, default 3, for Checkov on the subset), and the ratio is taken between the
# median wall times (nanosecond clock). A single 0.3 s run measured to 10 ms moved the ratio by
# several percent either way.
#
# usage: [RUNS=5] [CHECKOV_RUNS=3] bench/audit-vs-checkov.sh [N=10000] [SUBSET=200]
# needs: python3, checkov (pip install checkov), /usr/bin/time
# STOCKADE=path uses that binary instead of building a release one (`cargo build --release -p
# stockade`; the whole workspace in release with fat LTO is far longer on a shared machine).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SUBSET=${2:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -n "${STOCKADE:-}" ]; then
  bin=$STOCKADE
else
  cargo build --release --locked -q -p stockade
  bin=./target/release/stockade
fi
python3 bench/gen_corpus.py "$work/corpus" "$N"
mkdir "$work/subset"
files=("$work"/corpus/*.yaml)
cp "${files[@]:0:$SUBSET}" "$work/subset/"

RUNS=${RUNS:-5}
CHECKOV_RUNS=${CHECKOV_RUNS:-3}

measure() { # prints "seconds maxrss_kib" (seconds from a nanosecond clock)
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 ))e-6 $(tail -n 1 "$work/time")"
}

# Warm the page cache once for both inputs.
cat "$work"/corpus/* "$work"/subset/* >/dev/null

"$bin" audit --format json -o "$work/out.json" "$work/corpus" || true
python3 - "$work/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"stockade: {r['summary']['objects']} objects, {r['summary']['findings']} findings")
PY
: > "$work/s"; : > "$work/c"
for i in $(seq "$(( RUNS > CHECKOV_RUNS ? RUNS : CHECKOV_RUNS ))"); do
  [ "$i" -gt "$RUNS" ] || measure "$bin" audit --format json -o /dev/null "$work/corpus" >> "$work/s"
  [ "$i" -gt "$CHECKOV_RUNS" ] || measure checkov -d "$work/subset" --framework kubernetes --skip-download --quiet -o json >> "$work/c"
done
read -r s2_sec s2_rss < <(measure "$bin" audit --format json -o /dev/null "$work/subset")

python3 - "$N" "$SUBSET" "$s2_sec" "$work/s" "$work/c" <<'PY'
import statistics, sys
n, sub, s2_sec, sf, cf = sys.argv[1:]
n, sub, s2_sec = int(n), int(sub), float(s2_sec)
runs = lambda f: [(float(a), int(b)) for a, b in (l.split() for l in open(f) if l.strip())]
s, c = runs(sf), runs(cf)
s_sec = statistics.median(t for t, _ in s)
c_sec = statistics.median(t for t, _ in c)
s_rss = max(r for _, r in s)
c_rss = max(r for _, r in c)
s_rate, c_rate = n / s_sec, sub / c_sec
print("stockade runs (s): " + " ".join(f"{t:.3f}" for t, _ in s))
print("checkov runs (s):  " + " ".join(f"{t:.2f}" for t, _ in c))
print(f"stockade: {n} manifests in {s_sec:.3f} s (median) = {s_rate:,.0f} manifests/s, peak RSS {s_rss/1024:.1f} MiB")
print(f"stockade on the {sub}-manifest subset: {s2_sec:.3f} s = {sub/s2_sec:,.0f} manifests/s")
print(f"checkov:  {sub} manifests in {c_sec:.2f} s (median) = {c_rate:,.1f} manifests/s, peak RSS {c_rss/1024:.1f} MiB")
print(f"ratio (stockade full corpus / checkov subset, medians): {s_rate / c_rate:,.0f}x")
PY
