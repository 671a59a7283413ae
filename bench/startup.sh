#!/bin/bash
# Start-up benchmark: `run` (create + start + wait + delete) of /bin/true in a
# busybox bundle, for each runtime, N iterations, median and p95 in ms.
#
#   sudo bench/startup.sh [N] [runtime...]
#   e.g. sudo bench/startup.sh 200 target/release/stockade /usr/bin/crun /usr/sbin/runc
#
# Everything runs in a private mount namespace with the cgroup2 "unified"
# mount removed, because crun refuses hybrid hosts whose cgroup2 holds
# controllers; all runtimes then see the same (v1) cgroup layout.
# Each runtime gets its own --root under a temporary directory, removed at
# the end; the bundle is shared.
set -euo pipefail
N=${1:-100}; shift || true
RUNTIMES=("$@")
[ ${#RUNTIMES[@]} -gt 0 ] || RUNTIMES=(target/release/stockade /usr/bin/crun /usr/sbin/runc)
BB=$(command -v busybox)
W=$(mktemp -d /tmp/stockade-bench.XXXXXX)
trap 'rm -rf --one-file-system "$W"' EXIT
mkdir -p "$W/bundle/rootfs/bin" "$W/bundle/rootfs/proc" "$W/bundle/rootfs/sys" "$W/bundle/rootfs/dev" "$W/bundle/rootfs/tmp"
chmod 755 "$W/bundle/rootfs"
cp "$BB" "$W/bundle/rootfs/bin/busybox"
ln -s busybox "$W/bundle/rootfs/bin/true"
(cd "$W/bundle" && runc spec)
python3 - "$W/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open(p, "w"), indent=1)
PY
export W N
unshare -m --propagation private bash -s "${RUNTIMES[@]}" <<'INNER'
set -euo pipefail
umount /sys/fs/cgroup/unified 2>/dev/null || true
# Iterations are interleaved (runtime A, B, C, A, B, C, ...) so that load
# from other work on the host hits every runtime alike. The runtimes get
# /dev/null as stdin: this script itself arrives on bash's stdin.
for rt in "$@"; do
  name=$(basename "$rt")
  root="$W/root-$name"; mkdir -p "$root"
  # warm-up
  for i in 1 2 3; do "$rt" --root "$root" run --bundle "$W/bundle" "warm$i" </dev/null >/dev/null 2>&1 || true; done
  : > "$W/times-$name"; echo 0 > "$W/fail-$name"
done
for i in $(seq "$N"); do
  for rt in "$@"; do
    name=$(basename "$rt"); root="$W/root-$name"
    t0=$(date +%s%N)
    "$rt" --root "$root" run --bundle "$W/bundle" "b$i" </dev/null >/dev/null 2>&1 || echo $(( $(cat "$W/fail-$name") + 1 )) > "$W/fail-$name"
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) >> "$W/times-$name"
  done
done
for rt in "$@"; do
  name=$(basename "$rt")
  sort -n "$W/times-$name" > "$W/sorted"
  med=$(awk -v n="$N" 'NR==int((n+1)/2){printf "%.2f", $1/1000}' "$W/sorted")
  p95=$(awk -v n="$N" 'NR==int(n*0.95+0.5){printf "%.2f", $1/1000}' "$W/sorted")
  printf '%-10s runs=%d failed=%d median=%sms p95=%sms\n' "$name" "$N" "$(cat "$W/fail-$name")" "$med" "$p95"
done
INNER
