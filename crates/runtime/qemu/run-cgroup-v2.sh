#!/bin/sh
# The runtime on a pure cgroup v2 host, under QEMU (software emulation; no KVM needed):
#   crates/runtime/qemu/run-cgroup-v2.sh OUTDIR
# OUTDIR/configs/*.json are the bundles' config.json files (written by
# crates/cli/tests/runtime_cgroup_v2.rs). Downloads linux-image-6.12-cloud-amd64 with
# `apt-get download` (not installed; cached in OUTDIR), builds an initramfs from busybox-static
# and $STOCKADE (with its shared libraries), boots it with `cgroup_no_v1=all` (every controller on
# cgroup2, nothing on v1; AppArmor enabled, as Debian's default) and runs guest-cgroup-v2.sh,
# which prints "CHECK <name> ok" or "CHECK <name> FAIL <detail>" lines. apparmor_parser comes
# from `apt-get download apparmor`. Needs: qemu-system-x86, busybox-static, cpio, apt.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$1
STOCKADE=${STOCKADE:?set STOCKADE to the stockade binary}
cd "$OUT"

if [ -z "${KERNEL:-}" ]; then
	if ! ls linux-image-*.deb >/dev/null 2>&1; then
		pkg=$(apt-cache depends linux-image-6.12-cloud-amd64 | sed -n 's/.*Depends: //p' | head -1)
		apt-get download "$pkg" >/dev/null 2>&1
	fi
	if ! ls kernel/boot/vmlinuz-* >/dev/null 2>&1; then
		rm -rf kernel && dpkg-deb -x linux-image-*.deb kernel
	fi
	KERNEL=$(ls kernel/boot/vmlinuz-*)
fi

# apparmor_parser, from Debian's package (not installed on the host): the guest kernel enables
# AppArmor, as Debian's does by default, and the guest loads a test profile.
if ! ls apparmor_*.deb >/dev/null 2>&1; then
	apt-get download apparmor >/dev/null 2>&1 || true
fi
rm -rf apparmor && mkdir apparmor
if ls apparmor_*.deb >/dev/null 2>&1; then dpkg-deb -x apparmor_*.deb apparmor; fi

rm -rf initramfs && mkdir -p initramfs/bin initramfs/lib64 initramfs/lib/x86_64-linux-gnu \
	initramfs/proc initramfs/sys initramfs/dev initramfs/tmp initramfs/run initramfs/cfg
cp /bin/busybox initramfs/bin/
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "initramfs/bin/$a"; done
# A stripped copy: the debug binary is large, and the guest's initramfs lives in its RAM.
objcopy --strip-debug "$STOCKADE" initramfs/bin/stockade 2>/dev/null || cp "$STOCKADE" initramfs/bin/stockade
ldd "$STOCKADE" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
	[ -f "$lib" ] && cp -L "$lib" "initramfs$lib"
done
if [ -x apparmor/sbin/apparmor_parser ]; then
	cp apparmor/sbin/apparmor_parser initramfs/bin/
	ldd apparmor/sbin/apparmor_parser | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
		[ -f "$lib" ] && cp -L "$lib" "initramfs$lib"
	done
fi
cp configs/*.json initramfs/cfg/
cp "$HERE/guest-cgroup-v2.sh" initramfs/init
chmod +x initramfs/init
(cd initramfs && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >initramfs.cpio.gz

timeout 600 qemu-system-x86_64 -machine q35 -cpu max -m 1024 -smp 1 -nographic -no-reboot \
	-kernel "$KERNEL" -initrd initramfs.cpio.gz \
	-append "console=ttyS0 panic=-1 quiet cgroup_no_v1=all" \
	</dev/null >guest.log 2>&1 || true
tr -d '\r' <guest.log | grep -E '^(GUEST|CHECK|LOG)' | tee results.txt
grep -q GUEST-DONE results.txt || { echo "FAIL: the guest did not finish (see $OUT/guest.log)"; exit 1; }
! grep -q '^CHECK .* FAIL' results.txt
