#!/usr/bin/env bash
# Audit throughput: stockade on a generated corpus of N manifests and, in the same run, Checkov
# on a subset of it (Checkov is far slower; the subset keeps the run short). Prints manifests per
# second for both, the ratio, and stockade's peak resident memory.
#
# usage: bench/audit-vs-checkov.sh [N=10000] [SUBSET=200]
# needs: python3, checkov (pip install checkov), /usr/bin/time
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-10000}
SUBSET=${2:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cargo build --release --locked -q
python3 bench/gen_corpus.py "$work/corpus" "$N"
mkdir "$work/subset"
files=("$work"/corpus/*.yaml)
cp "${files[@]:0:$SUBSET}" "$work/subset/"

measure() { # prints "seconds maxrss_kib"
  /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
  tail -n 1 "$work/time"
}

# Warm the page cache once for both inputs.
cat "$work"/corpus/* "$work"/subset/* >/dev/null

read -r s_sec s_rss < <(measure ./target/release/stockade audit --format json -o "$work/out.json" "$work/corpus")
python3 - "$work/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"stockade: {r['summary']['objects']} objects, {r['summary']['findings']} findings")
PY
read -r s2_sec s2_rss < <(measure ./target/release/stockade audit --format json -o /dev/null "$work/subset")
read -r c_sec c_rss < <(measure checkov -d "$work/subset" --framework kubernetes --skip-download --quiet -o json)

python3 - "$N" "$s_sec" "$s_rss" "$SUBSET" "$s2_sec" "$c_sec" "$c_rss" <<'PY'
import sys
n, s_sec, s_rss, sub, s2_sec, c_sec, c_rss = sys.argv[1:]
n, sub = int(n), int(sub)
s_sec, s2_sec, c_sec = max(float(s_sec), 0.001), max(float(s2_sec), 0.001), max(float(c_sec), 0.001)
s_rate, c_rate = n / s_sec, sub / c_sec
print(f"stockade: {n} manifests in {s_sec:.2f} s = {s_rate:,.0f} manifests/s, peak RSS {int(s_rss)/1024:.1f} MiB")
print(f"stockade on the {sub}-manifest subset: {s2_sec:.2f} s = {sub/s2_sec:,.0f} manifests/s")
print(f"checkov:  {sub} manifests in {c_sec:.2f} s = {c_rate:,.1f} manifests/s, peak RSS {int(c_rss)/1024:.1f} MiB")
print(f"ratio (stockade full corpus / checkov subset): {s_rate / c_rate:,.0f}x")
PY
