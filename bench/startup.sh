#!/bin/bash
# Start-up benchmark: `run` (create + start + wait + delete) of /bin/true in a
# busybox bundle, for each runtime and config, N iterations, median and p95 in ms.
#
#   sudo [MODE=exec] bench/startup.sh [N] [RUNTIME[@CONFIG]...]
#   e.g. sudo bench/startup.sh 200 target/release/stockade /usr/bin/crun /usr/sbin/runc
#        sudo bench/startup.sh 100 target/release/stockade@hardened /usr/bin/crun \
#             /usr/bin/crun@docker target/release/stockade      (= bench/startup-hardened.sh)
#
# CONFIG (default bare) is the bundle's config.json:
#   bare      `runc spec` (no user namespace, no seccomp, runc's 3 capabilities);
#   hardened  `stockade spec` (stockade's hardened default: user namespace
#             0->2000000000:65536 with an idmapped rootfs, the default seccomp profile, Landlock, masked and
#             read-only paths, read-only root with tmpfs /tmp and /run, pids and
#             memory limits, every namespace);
#   docker    Docker-like: `runc spec` with Docker's 14 capabilities, its
#             mounts and device rules, no no_new_privs, and the masked paths,
#             read-only paths and seccomp profile taken from `stockade spec`
#             (Docker's masked/read-only lists from policy::paths; the profile
#             is Docker's allow-list of ~360 syscalls minus ~35, with Docker's
#             three architectures x86_64, x86 and x32, so it compiles like
#             Docker's).
# Every config runs /bin/true without a terminal.
#
# MODE=exec: time `exec` instead of `run`. Each entry starts one container of
# its config running `sleep` (detached), and each iteration times `RUNTIME exec
# ID /bin/true` into it (join the namespaces and cgroups, apply the config's
# process security, run, wait): what an engine's health check or `kubectl exec`
# pays.
#
# PERF_RUNS=M (default 0): after the timed runs, `perf stat` M more runs of
# each entry and print CPU time (task-clock, user, sys) and page faults per
# run: a view that load from other work on the host disturbs much less than
# wall time.
#
# Everything runs in a private mount namespace with the cgroup2 "unified"
# mount removed, because crun refuses hybrid hosts whose cgroup2 holds
# controllers; all runtimes then see the same (v1) cgroup layout.
# Each entry gets its own --root under a temporary directory, removed at
# the end; the rootfs is shared.
set -euo pipefail
N=${1:-100}; shift || true
ENTRIES=("$@")
[ ${#ENTRIES[@]} -gt 0 ] || ENTRIES=(target/release/stockade /usr/bin/crun /usr/sbin/runc)
BB=$(command -v busybox)
W=$(mktemp -d /tmp/stockade-bench.XXXXXX)
trap 'rm -rf --one-file-system "$W"' EXIT
# The hardened config's container root is host uid 2000000000: it must be able
# to reach the rootfs.
chmod 755 "$W"
mkdir -p "$W/rootfs/bin" "$W/rootfs/proc" "$W/rootfs/sys" "$W/rootfs/dev" "$W/rootfs/tmp" "$W/rootfs/run"
chmod 755 "$W/rootfs"
cp "$BB" "$W/rootfs/bin/busybox"
ln -s busybox "$W/rootfs/bin/true"
ln -s busybox "$W/rootfs/bin/sleep"
MODE=${MODE:-run}
case "$MODE" in run|exec) ;; *) echo "MODE must be run or exec" >&2; exit 2 ;; esac

stockade_bin() {
  for e in "${ENTRIES[@]}"; do
    case "$(basename "${e%@*}")" in stockade*) echo "${e%@*}"; return;; esac
  done
  echo target/release/stockade
}

# bundle CONFIG: write $W/bundle-CONFIG/config.json once.
bundle() {
  local cfg=$1 d="$W/bundle-$1"
  [ -e "$d/config.json" ] && return
  mkdir -p "$d"
  case "$cfg" in
    bare) (cd "$d" && runc spec) ;;
    hardened|docker)
      local s; s=$(realpath "$(stockade_bin)")
      mkdir -p "$W/spec-stockade"
      [ -e "$W/spec-stockade/config.json" ] || (cd "$W/spec-stockade" && "$s" spec)
      [ -e "$W/spec-runc/config.json" ] || { mkdir -p "$W/spec-runc"; (cd "$W/spec-runc" && runc spec); }
      ;;
    *) echo "unknown config $cfg (bare, hardened, docker)" >&2; exit 2 ;;
  esac
  python3 - "$cfg" "$d/config.json" "$W" "$MODE" <<'PY'
import json, sys
cfg, out, w, mode = sys.argv[1:]
if cfg == "bare":
    c = json.load(open(out))
elif cfg == "hardened":
    c = json.load(open(f"{w}/spec-stockade/config.json"))
else:
    c = json.load(open(f"{w}/spec-runc/config.json"))
    h = json.load(open(f"{w}/spec-stockade/config.json"))
    # Docker's default capabilities (moby oci/caps/defaults.go; the same
    # list as crates/check/src/profile.rs DOCKER_CAPS).
    caps = ["CAP_" + n for n in ("CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID "
                                  "SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE").split()]
    c["process"]["capabilities"] = {k: caps for k in ("bounding", "effective", "permitted", "inheritable")}
    c["process"]["noNewPrivileges"] = False
    c["root"]["readonly"] = False
    c["mounts"] = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    ]
    dev = [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "access": "m"},
           {"allow": True, "type": "b", "access": "m"}]
    dev += [{"allow": True, "type": "c", "major": a, "minor": b, "access": "rwm"}
            for a, b in ((1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200))]
    dev.append({"allow": True, "type": "c", "major": 136, "access": "rwm"})
    c["linux"] = {
        "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
        "maskedPaths": h["linux"]["maskedPaths"],
        "readonlyPaths": h["linux"]["readonlyPaths"],
        "resources": {"devices": dev},
        "seccomp": h["linux"]["seccomp"],
    }
    # Docker's profile covers the compat tables too (stockade's is native only).
    c["linux"]["seccomp"]["architectures"] = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
c["root"]["path"] = f"{w}/rootfs"
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sleep", "1000000"] if mode == "exec" else ["/bin/true"]
json.dump(c, open(out, "w"), indent=1)
PY
}

# Entry labels: the runtime's basename, with @CONFIG unless bare.
LABELS=(); SPECS=()
for e in "${ENTRIES[@]}"; do
  rt=${e%@*}; cfg=bare; [ "$rt" = "$e" ] || cfg=${e##*@}
  [ -x "$rt" ] || { echo "not an executable: $rt" >&2; exit 2; }
  bundle "$cfg"
  label=$(basename "$rt"); [ "$cfg" = bare ] || label="$label@$cfg"
  # Every runtime runs from a copy in the work directory, written in one
  # sequential pass: a binary the linker has just written sits in the page
  # cache in 4 KiB pieces and costs stockade ~30 more page faults and
  # ~0.5 ms per run here than the same bytes copied (as an installed
  # package's files are), which would compare a fresh build unfairly with
  # /usr/bin/crun.
  mkdir -p "$W/bin/$label"; cp "$(realpath "$rt")" "$W/bin/$label/$(basename "$rt")"
  LABELS+=("$label"); SPECS+=("$W/bin/$label/$(basename "$rt")|$W/bundle-$cfg|$label")
done
export W N MODE PERF_RUNS=${PERF_RUNS:-0}
unshare -m --propagation private bash -s "${SPECS[@]}" <<'INNER'
set -euo pipefail
umount /sys/fs/cgroup/unified 2>/dev/null || true
# run_one RUNTIME ROOT BUNDLE ID: one timed operation (MODE run or exec)
run_one() {
  if [ "$MODE" = exec ]; then
    "$1" --root "$2" exec target /bin/true </dev/null >/dev/null
  else
    "$1" --root "$2" run --bundle "$3" "$4" </dev/null >/dev/null
  fi
}
# the containers of MODE=exec go when the script ends, each by its own runtime
if [ "$MODE" = exec ]; then
  trap 'for s in "$@"; do IFS="|" read -r rt b label <<<"$s"; "$rt" --root "$W/root-$label" delete -f target >/dev/null 2>&1 || true; done' EXIT
fi
# Iterations are interleaved (entry A, B, C, A, B, C, ...) so that load
# from other work on the host hits every entry alike. The runtimes get
# /dev/null as stdin: this script itself arrives on bash's stdin.
for s in "$@"; do
  IFS='|' read -r rt b label <<<"$s"
  root="$W/root-$label"; mkdir -p "$root"
  if [ "$MODE" = exec ]; then
    # the container every exec of this entry goes into
    if ! "$rt" --root "$root" run -d --bundle "$b" target </dev/null >/dev/null 2>"$W/err"; then
      echo "$label: $(cat "$W/err")" >&2; exit 1
    fi
  fi
  # warm-up; the first run must work (its error is shown)
  if ! run_one "$rt" "$root" "$b" warm0 2>"$W/err"; then
    echo "$label: $(cat "$W/err")" >&2; exit 1
  fi
  for i in 1 2; do run_one "$rt" "$root" "$b" "warm$i" 2>/dev/null || true; done
  : > "$W/times-$label"; echo 0 > "$W/fail-$label"
done
entries=("$@"); n=${#entries[@]}
# A runtime that runs right after another pays for the work the previous one
# left to the kernel (runc's exit and cgroup removal cost the next start about
# 3-5 ms here), so each entry must follow each other entry equally often. A
# rotation does not do that for three entries (A B C, B C A, C A B: A follows
# C twice as often as B does), so every iteration runs the entries in a fresh
# random order (Fisher-Yates over bash's $RANDOM, seeded by SEED, default 1,
# so a run can be repeated).
RANDOM=${SEED:-1}
for i in $(seq "$N"); do
  order=($(seq 0 $((n - 1))))
  for ((j = n - 1; j > 0; j--)); do
    r=$((RANDOM % (j + 1))); t=${order[$j]}; order[$j]=${order[$r]}; order[$r]=$t
  done
  for k in "${order[@]}"; do
    s=${entries[$k]}
    IFS='|' read -r rt b label <<<"$s"; root="$W/root-$label"
    t0=$(date +%s%N)
    run_one "$rt" "$root" "$b" "b$i" 2>/dev/null || echo $(( $(cat "$W/fail-$label") + 1 )) > "$W/fail-$label"
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 )) >> "$W/times-$label"
  done
done
for s in "$@"; do
  IFS='|' read -r rt b label <<<"$s"
  sort -n "$W/times-$label" > "$W/sorted"
  med=$(awk -v n="$N" 'NR==int((n+1)/2){printf "%.2f", $1/1000}' "$W/sorted")
  p95=$(awk -v n="$N" 'NR==int(n*0.95+0.5){printf "%.2f", $1/1000}' "$W/sorted")
  printf '%-24s runs=%d failed=%d median=%sms p95=%sms\n' "$label" "$N" "$(cat "$W/fail-$label")" "$med" "$p95"
done
[ "$PERF_RUNS" -gt 0 ] || exit 0
# CPU time per run (the runtime, its children and /bin/true), perf stat over
# PERF_RUNS runs of each entry in turn.
for s in "$@"; do
  IFS='|' read -r rt b label <<<"$s"; root="$W/root-$label"
  perf stat -e task-clock,page-faults -o "$W/perf-$label" -- \
    bash -c 'for i in $(seq "$1"); do
               if [ "$5" = exec ]; then "$2" --root "$3" exec target /bin/true
               else "$2" --root "$3" run --bundle "$4" "p$i"; fi </dev/null >/dev/null 2>&1
             done' \
    _ "$PERF_RUNS" "$rt" "$root" "$b" "$MODE"
  awk -v n="$PERF_RUNS" -v l="$label" '
    /task-clock/ {gsub(",", "", $1); tc=$1}
    /page-faults/ {gsub(",", "", $1); pf=$1}
    /seconds user/ {u=$1*1000} /seconds sys/ {s=$1*1000}
    END {printf "%-24s perf runs=%d task-clock=%.2fms user=%.2fms sys=%.2fms page-faults=%d (per run)\n", l, n, tc/n, u/n, s/n, pf/n}' "$W/perf-$label"
done
INNER
