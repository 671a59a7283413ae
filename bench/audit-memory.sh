#!/usr/bin/env bash
# Peak memory of `stockade audit` on one large multi-document stream read from stdin (what
# `kubectl get -A -o yaml` or `helm template` pipe into it).
#
# usage: bench/audit-memory.sh [MEGABYTES]   (default 100)
#        FORMAT=text|sarif bench/audit-memory.sh 1000
#
# Builds a stream of about MEGABYTES MB by repeating the manifests of bench/gen_corpus.py
# (2,000 objects, a mix of clean and risky pods and workloads) separated by `---`, audits it with
# `stockade audit -f json -o REPORT -`, and prints the input size, the objects and findings,
# the wall time and the peak RSS (getrusage of the child). FORMAT=text writes the text report to
# /dev/null instead (no report on disk: a 1 GB stream makes ~3.5 GB of JSON), and prints the
# exit code instead of the counts; FORMAT=sarif writes SARIF to /dev/null.
# LIST=1 writes the same objects as one List document, as `kubectl get -A -o yaml` does (items at
# column 0, `kind: List` after them), which the auditor reads item by item.
# STOCKADE=path uses that binary instead of building a release one.
set -euo pipefail
cd "$(dirname "$0")/.."
mb=${1:-100}
if [ -n "${STOCKADE:-}" ]; then
  bin=$STOCKADE
else
  cargo build --release --locked -q -p stockade
  bin=./target/release/stockade
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/stockade-audit-memory.XXXXXX")
trap 'rm -rf "$work"' EXIT
python3 bench/gen_corpus.py "$work/corpus" 2000 >/dev/null
python3 - "$work/corpus" "$work/stream.yaml" "$mb" "${LIST:-0}" <<'PY'
import os, sys
src, out, mb, as_list = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
docs = [open(os.path.join(src, f)).read() for f in sorted(os.listdir(src))]
def entry(doc):
    lines = doc.rstrip("\n").split("\n")
    return "- " + lines[0] + "\n" + "".join("  " + l + "\n" for l in lines[1:])
if as_list:
    unit = "".join(entry(d) for d in docs)
else:
    unit = "".join(d + "---\n" for d in docs)
with open(out, "w") as f:
    if as_list:
        f.write("apiVersion: v1\nitems:\n")
    written = 0
    while written < mb * 1000 * 1000:
        f.write(unit)
        written += len(unit)
    if as_list:
        f.write('kind: List\nmetadata:\n  resourceVersion: ""\n')
PY
python3 - "$bin" "$work/stream.yaml" "$work/report.json" "${FORMAT:-json}" <<'PY'
import json, os, resource, subprocess, sys, time
binary, stream, report, fmt = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
size = os.path.getsize(stream)
out = report if fmt == "json" else "/dev/null"
start = time.monotonic()
with open(stream, "rb") as stdin:
    p = subprocess.run([binary, "audit", "-f", fmt, "-o", out, "-"], stdin=stdin)
wall = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if fmt == "json":
    with open(report) as f:
        summary = json.load(f)["summary"]
    counts = f"{summary['objects']} objects, {summary['findings']} findings, "
else:
    counts = f"-f {fmt} to /dev/null, "
print(f"input {size / 1e6:.1f} MB: {counts}exit {p.returncode}, {wall:.1f} s, "
      f"peak RSS {peak:.1f} MiB")
PY
