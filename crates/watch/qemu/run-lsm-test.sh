#!/bin/sh
# Tier (a), BPF-LSM, on a stock Debian kernel under QEMU (software emulation; no KVM needed):
#   crates/watch/qemu/run-lsm-test.sh [OUTDIR]
# Downloads linux-image-6.12-cloud-amd64 with `apt-get download` (not installed), extracts the
# vmlinuz, builds an initramfs from busybox-static, the release `stockade-watch` with its shared
# libraries and the static trigger helper, boots it with `lsm=...,bpf` and checks that mount, the
# new mount API, release_agent writes, ptrace and fileless / tmpfs exec are denied inside a
# cgroup and allowed outside. Needs: qemu-system-x86, clang, busybox-static, apt.
set -eu
HERE=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${1:-$(mktemp -d /tmp/skw-qemu.XXXXXX)}
mkdir -p "$OUT"
cd "$OUT"
WATCH=${WATCH:-$HERE/target/release/stockade-watch}
[ -x "$WATCH" ] || (cd "$HERE" && cargo build -q --release -p stockade-watch --bins)

if [ -z "${KERNEL:-}" ]; then
	if ! ls linux-image-*.deb >/dev/null 2>&1; then
		pkg=$(apt-cache depends linux-image-6.12-cloud-amd64 | sed -n 's/.*Depends: //p' | head -1)
		apt-get download "$pkg" >/dev/null 2>&1
	fi
	rm -rf kernel && dpkg-deb -x linux-image-*.deb kernel
	KERNEL=$(ls kernel/boot/vmlinuz-*)
fi

rm -rf initramfs && mkdir -p initramfs/bin initramfs/lib64 initramfs/lib/x86_64-linux-gnu \
	initramfs/proc initramfs/sys initramfs/dev initramfs/tmp initramfs/mnt
cp /bin/busybox initramfs/bin/
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "initramfs/bin/$a"; done
cp "$WATCH" initramfs/bin/stockade-watch
ldd "$WATCH" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
	[ -f "$lib" ] && cp -L "$lib" "initramfs$lib"
done
clang -static -O2 -w -o initramfs/bin/skd-trigger "$HERE/crates/watch/tests/helper/skd-trigger.c"
cp "$HERE/crates/watch/qemu/guest-init.sh" initramfs/init
chmod +x initramfs/init
(cd initramfs && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >initramfs.cpio.gz

timeout 300 qemu-system-x86_64 -machine q35 -cpu max -m 1024 -smp 1 -nographic -no-reboot \
	-kernel "$KERNEL" -initrd initramfs.cpio.gz \
	-append "console=ttyS0 panic=-1 quiet lsm=lockdown,capability,landlock,yama,bpf" \
	</dev/null >guest.log 2>&1 || true
tr -d '\r' <guest.log | grep -E '^(GUEST|WATCH|RESULT|EVENT)' | tee results.txt

fail=0
grep -q GUEST-DONE guest.log || { echo "FAIL: the guest did not finish"; fail=1; }
grep -q "tier a (BPF-LSM" results.txt || { echo "FAIL: tier a not chosen"; fail=1; }
for a in mount newmount release_agent ptrace exec_tmp exec_memfd; do
	line=$(grep "^RESULT $a " results.txt || true)
	case "$line" in
	*"outside=0 inside=0"*|"") echo "FAIL: $a: ${line:-missing}"; fail=1 ;;
	*"outside=0 inside="*) echo "ok: $a denied inside, allowed outside" ;;
	*) echo "FAIL: $a: $line"; fail=1 ;;
	esac
done
exit $fail
