#!/usr/bin/env bash
# Boots the real-host guest (realhost/build-image.sh) under QEMU and runs one script in it.
#   realhost/run.sh [--selinux] [--out DIR] [--add PATH[:NAME]]... SCRIPT
# The guest: Debian bookworm, Debian's 6.12 cloud kernel, systemd as PID 1, cgroup v2 only
# (cgroup_no_v1=all), AppArmor on; with --selinux, SELinux (refpolicy, permissive) instead.
# SCRIPT runs as root in /realhost/in with `stockade` on PATH (/usr/local/bin/stockade, taken from
# $STOCKADE or target/debug/stockade) and every --add file beside it (NAME defaults to the
# basename). Its output is printed here; the exit status is the script's. The disk is opened
# with -snapshot: nothing a run does is kept. Needs qemu-system-x86; software emulation (TCG).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
IMG=${REALHOST_IMAGE:-$REPO/target/realhost}
selinux=0 out= adds=()
while [ $# -gt 1 ]; do
	case "$1" in
	--selinux) selinux=1 ;;
	--out) out=$2; shift ;;
	--add) adds+=("$2"); shift ;;
	*) echo "realhost/run.sh: unknown option $1 (see the usage at the top of the script)" >&2; exit 2 ;;
	esac
	shift
done
[ $# -eq 1 ] || { echo "usage: realhost/run.sh [--selinux] [--out DIR] [--add PATH[:NAME]]... SCRIPT" >&2; exit 2; }
script=$1
[ -f "$script" ] || { echo "realhost/run.sh: no script $script" >&2; exit 2; }
for f in rootfs.img vmlinuz initrd.img; do
	[ -f "$IMG/$f" ] || { echo "realhost/run.sh: $IMG/$f missing: run realhost/build-image.sh first" >&2; exit 2; }
done
STOCKADE=${STOCKADE:-$REPO/target/debug/stockade}
[ -x "$STOCKADE" ] || { echo "realhost/run.sh: no stockade binary at $STOCKADE (cargo build, or set STOCKADE)" >&2; exit 2; }

[ -n "$out" ] || out=$(mktemp -d /tmp/realhost-run.XXXXXX)
mkdir -p "$out"
in=$(mktemp -d "$out/in.XXXXXX")
mkdir -p "$in/bin"
install -m 0755 "$STOCKADE" "$in/bin/stockade"
install -m 0755 "$script" "$in/run"
for a in "${adds[@]}"; do
	src=${a%%:*}; name=$(basename "$src")
	[ "$a" = "$src" ] || name=${a#*:}
	mkdir -p "$(dirname "$in/$name")"
	cp -a "$src" "$in/$name"
done
# debug info is not needed in the guest (a debug stockade is ~130 MB, ~20 MB without it)
find "$in" -type f -perm -u+x -exec strip --strip-debug {} \; 2>/dev/null || true
tar -C "$in" -cf "$out/input.tar" .
rm -rf "$in"
# a raw disk must be whole sectors; tar already is (10 KiB records), pad anyway
truncate -s %1048576 "$out/input.tar"

# no_timer_check: under emulation on a loaded host the kernel's check of the timer through the
# IO-APIC can time out and panic the boot ("IO-APIC + timer doesn't work!"); the check is
# meaningless in a VM.
cmdline="root=/dev/vda rw console=ttyS0 quiet panic=-1 no_timer_check systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
if [ "$selinux" = 1 ]; then
	cmdline="$cmdline lsm=landlock,lockdown,yama,integrity,selinux,bpf selinux=1 enforcing=0"
else
	cmdline="$cmdline apparmor=1"
fi
# Software emulation: /dev/kvm may exist here but KVM fails on this nested host (emulation
# failure at boot). REALHOST_ACCEL=kvm where it works.
accel=${REALHOST_ACCEL:-tcg}
: >"$out/out.log"
start=$(date +%s)
rc=0
timeout "${REALHOST_TIMEOUT:-2400}" qemu-system-x86_64 -machine q35,accel=$accel -cpu max \
	-m "${REALHOST_MEM:-2048}" -smp "${REALHOST_CPUS:-2}" \
	-display none -monitor none -no-reboot \
	-kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" -append "$cmdline" \
	-drive file="$IMG/rootfs.img",format=raw,if=virtio,snapshot=on \
	-drive file="$out/input.tar",format=raw,if=virtio,readonly=on \
	-serial file:"$out/console.log" -serial file:"$out/out.log" \
	-nic none </dev/null || rc=$?
cat "$out/out.log"
echo "realhost: guest ran $(($(date +%s) - start))s (qemu exit $rc; console log $out/console.log)"
grc=$(sed -n 's/^REALHOST-EXIT \([0-9]*\).*/\1/p' "$out/out.log" | tail -1)
if [ -z "$grc" ]; then
	echo "realhost: the guest did not finish the script (see $out/console.log)" >&2
	tail -20 "$out/console.log" >&2
	exit 1
fi
exit "$grc"
