#!/usr/bin/env bash
# `stockade image` vs Syft in the same run, on (1) a Debian 12 minbase image (mmdebstrap, saved
# by podman as a docker-archive) and (2) a synthetic OCI image of one gzip layer holding a million
# small files (bench/gen_million_image.py). Both tools read the same archive and write their JSON
# inventory (stockade also runs its escape checks); each run is timed with a nanosecond clock and
# /usr/bin/time gives the peak RSS. The ratio is between median wall times.
#
# usage: [RUNS=3] [MILLION_RUNS=1] [N=1000000] bench/image-vs-syft.sh
# needs: the release binary (cargo build --release), podman, mmdebstrap (or the cached tarball
# target/tmp/debian-bookworm-minbase.tar from the tests), python3, syft
# (/opt/stockade-ci/syft-venv/bin/syft from scripts/install-deps, or SYFT=...), /usr/bin/time
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
MILLION_RUNS=${MILLION_RUNS:-1}
N=${N:-1000000}
SYFT=${SYFT:-/opt/stockade-ci/syft-venv/bin/syft}
BIN=${BIN:-./target/release/stockade}
work=$(mktemp -d)
store="$work/podman"
trap 'rm -rf "$work"' EXIT
export SYFT_CHECK_FOR_APP_UPDATE=false

deb=target/tmp/debian-bookworm-minbase.tar
if [ ! -f "$deb" ]; then
  mkdir -p target/tmp
  mmdebstrap --variant=minbase --mode=root --format=tar -q bookworm "$deb.part"
  mv "$deb.part" "$deb"
fi
P=(podman --root "$store/root" --runroot "$store/run" --storage-driver vfs --cgroup-manager cgroupfs --events-backend none)
"${P[@]}" import -q "$deb" localhost/skd-bench-debian:12 >/dev/null
"${P[@]}" save -q --format docker-archive -o "$work/debian.tar" localhost/skd-bench-debian:12
python3 bench/gen_million_image.py "$work/million" "$N" >/dev/null

measure() { # prints "seconds maxrss_kib"
  local t0 t1
  t0=$(date +%s%N)
  /usr/bin/time -f "%M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || true
  t1=$(date +%s%N)
  echo "$(( (t1 - t0) / 1000 ))e-6 $(tail -n 1 "$work/time")"
}

bench() { # name stockade-source syft-source runs
  local name=$1 ours=$2 theirs=$3 runs=$4
  cat "${ours#*:}" >/dev/null 2>&1 || true
  : > "$work/s"; : > "$work/y"
  for _ in $(seq "$runs"); do
    measure "$BIN" image -f json -o /dev/null --db "$work/nodb" "$ours" >> "$work/s"
    measure "$SYFT" -q "$theirs" -o json >> "$work/y"
  done
  python3 - "$name" "$work/s" "$work/y" <<'PY'
import statistics, sys
name, sf, yf = sys.argv[1:]
runs = lambda f: [(float(a), int(b)) for a, b in (l.split() for l in open(f) if l.strip())]
s, y = runs(sf), runs(yf)
st, yt = statistics.median(t for t, _ in s), statistics.median(t for t, _ in y)
sr, yr = max(r for _, r in s) / 1024, max(r for _, r in y) / 1024
print(f"{name}: stockade {st:.2f} s, {sr:.0f} MB peak RSS; syft {yt:.2f} s, {yr:.0f} MB; "
      f"time ratio {yt / st:.1f}x faster, RSS ratio {yr / sr:.1f}x less ({len(s)} runs each)")
PY
}

"$BIN" image -f json -o "$work/deb.json" --db "$work/nodb" "docker-archive:$work/debian.tar" 2>/dev/null || true
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"debian: {len(r['packages'])} packages, {len(r['findings'])} findings\")" "$work/deb.json"
bench "debian 12 minbase (docker-archive)" "docker-archive:$work/debian.tar" "docker-archive:$work/debian.tar" "$RUNS"
bench "$N small files (oci layout, gzip)" "oci:$work/million" "oci-dir:$work/million" "$MILLION_RUNS"
