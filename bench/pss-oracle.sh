#!/usr/bin/env bash
# Kubernetes' own Pod Security admission as the oracle for `stockade audit --pss-only`.
#
# usage: bench/pss-oracle.sh TESTDATA_DIR
#
# TESTDATA_DIR is test/testdata of a checkout of kubernetes/pod-security-admission (not part of
# this repository): <level>/v1.<minor>/<pass|fail>/*.yaml, each a Pod that PSA admits (pass) or
# rejects (fail) at that level and version. For every fixture this runs the real CLI,
#   stockade audit --pss-only --level LEVEL --pss-version v1.N FILE
# and expects exit 0 for pass and 1 for fail. Prints the disagreements and the score.
# It also checks that `--pss-version latest` gives the verdicts of the newest version's fixtures.
#
# STOCKADE=path/to/stockade uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bench/pss-oracle.sh TESTDATA_DIR}
if [ -n "${STOCKADE:-}" ]; then
  bin=$STOCKADE
else
  cargo build --release --locked -q
  bin=./target/release/stockade
fi
total=0; agree=0
for dir in "$data"/*/v1.*/*/; do
  dir=${dir%/}
  verdict=$(basename "$dir"); version=$(basename "$(dirname "$dir")")
  level=$(basename "$(dirname "$(dirname "$dir")")")
  want=0; [ "$verdict" = fail ] && want=1
  for f in "$dir"/*.yaml; do
    [ -e "$f" ] || continue
    total=$((total + 1))
    set +e
    "$bin" audit --pss-only --level "$level" --pss-version "$version" --format json -o /dev/null "$f"
    got=$?
    set -e
    if [ "$got" = "$want" ]; then
      agree=$((agree + 1))
    else
      echo "DISAGREE $level $version $verdict $(basename "$f"): exit $got"
    fi
  done
done
echo "score: $agree/$total fixtures where stockade's exit code matches Pod Security admission"
# `latest` is the newest version: its fixtures give the same verdicts with --pss-version latest.
newest=$(ls -d "$data"/baseline/v1.* | sed 's/.*v1\.//' | sort -n | tail -1)
ltotal=0; lagree=0
for level in baseline restricted; do
  for verdict in pass fail; do
    want=0; [ "$verdict" = fail ] && want=1
    for f in "$data/$level/v1.$newest/$verdict"/*.yaml; do
      [ -e "$f" ] || continue
      ltotal=$((ltotal + 1))
      set +e
      "$bin" audit --pss-only --level "$level" --pss-version latest --format json -o /dev/null "$f"
      got=$?
      set -e
      if [ "$got" = "$want" ]; then
        lagree=$((lagree + 1))
      else
        echo "DISAGREE latest (v1.$newest fixtures) $level $verdict $(basename "$f"): exit $got"
      fi
    done
  done
done
echo "latest: $lagree/$ltotal fixtures of v1.$newest agree with --pss-version latest"
[ "$agree" = "$total" ] && [ "$lagree" = "$ltotal" ]
