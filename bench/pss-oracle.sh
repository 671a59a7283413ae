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
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: bench/pss-oracle.sh TESTDATA_DIR}
cargo build --release --locked -q
bin=./target/release/stockade
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
[ "$agree" = "$total" ]
