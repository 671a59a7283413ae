#!/usr/bin/env bash
# `stockade host` wall time and peak RSS on this machine, without --prove, against the cheapest
# peer that reads the same package database in the same run (`dpkg-query -W`).
#   bench/host.sh [STOCKADE] [RUNS]     # default target/debug/stockade, 20 runs
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/stockade}
runs=${2:-20}
[ -x "$bin" ] || { echo "bench/host.sh: no $bin (cargo build first)" >&2; exit 2; }
measure() { # prints "seconds maxrss_kb" per run, sorted by time
	for _ in $(seq "$runs"); do
		/usr/bin/time -f '%e %M' "$@" >/dev/null 2>>"$tmp" || true
	done
	grep -E '^[0-9.]+ [0-9]+$' "$tmp" | sort -n
	: >"$tmp"
}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
median() { awk '{a[NR]=$1; m[NR]=$2} END {i=int((NR+1)/2); printf "%s %s\n", a[i], m[i]}'; }
read -r st sm < <(measure "$bin" host --format json | median)
read -r dt dm < <(measure dpkg-query -W | median)
echo "stockade host --format json: median ${st}s, ${sm} KB peak RSS ($runs runs)"
echo "dpkg-query -W:               median ${dt}s, ${dm} KB peak RSS"
awk -v a="$st" -v b="$dt" 'BEGIN { if (b > 0) printf "ratio stockade host / dpkg-query: %.1fx\n", a / b; else print "ratio: dpkg-query below timer resolution" }'
