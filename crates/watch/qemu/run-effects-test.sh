#!/bin/sh
# Watch's effect rules on Debian's 6.1 kernel under QEMU (software emulation; no KVM needed):
#   crates/watch/qemu/run-effects-test.sh [OUTDIR]
# Downloads Debian bookworm's cloud kernel (linux-image-cloud-amd64's 6.1 package; KERNEL_PKG=
# names another) and its headers with `apt-get download` (not installed), builds the test module
# crates/watch/qemu/skd-cred against them (a proc file whose write runs
# commit_creds(prepare_kernel_cred(&init_task)) in the writer: an exploit's payload, no bug),
# and boots an initramfs with busybox, `stockade-watch`, `stockade`, the static trigger helper
# and the module. The guest (guest-effects.sh) runs the sensor's default tier while a stockade
# container (its default spec: own user namespace, uid 65534) and host processes run the
# SKD-RUN-042 and SKD-RUN-044 triggers, and prints the events as `EVENT <json>` lines;
# crates/watch/tests/qemu_effects.rs checks them. Without the headers or a working kbuild the
# guest runs without the module (the init-user-namespace cases then say so); without the kernel
# the script exits 3.
# Needs: qemu-system-x86, clang, gcc-12, make, busybox-static, python3, apt.
# GUEST_ENV="STOCKADE_WATCH_DEBUG=1" puts libbpf's log in the WATCH lines (kernel arguments with = are
# /init's environment).
set -eu
HERE=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${1:-$(mktemp -d /tmp/skw-qemu-effects.XXXXXX)}
mkdir -p "$OUT"
cd "$OUT"
WATCH=${WATCH:-$HERE/target/debug/stockade-watch}
STOCKADE=${STOCKADE:-$HERE/target/debug/stockade}
for b in "$WATCH" "$STOCKADE"; do
	[ -x "$b" ] || { echo "run-effects-test.sh: $b is not built (cargo build -p stockade -p stockade-watch)" >&2; exit 2; }
done

# the kernel, its headers and kbuild, one version (cached in OUTDIR), and the test module
pkg=${KERNEL_PKG:-$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/.*Depends: //p' | head -1)}
rel=${pkg#linux-image-}
"$HERE/crates/watch/qemu/skd-cred/build.sh" "$rel" "$OUT" || echo "run-effects-test.sh: no module"
KERNEL=$(ls "k-$rel"/boot/vmlinuz-* 2>/dev/null) ||
	{ echo "run-effects-test.sh: no kernel: apt-get download $pkg failed"; exit 3; }

rm -rf initramfs && mkdir -p initramfs/bin initramfs/lib64 initramfs/lib/x86_64-linux-gnu \
	initramfs/proc initramfs/sys initramfs/dev initramfs/tmp initramfs/run initramfs/newroot \
	initramfs/ctr/bin initramfs/ctr/proc initramfs/ctr/dev initramfs/ctr/sys initramfs/ctr/tmp \
	initramfs/ctr/run initramfs/bundle
cp /bin/busybox initramfs/bin/
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -sf busybox "initramfs/bin/$a"; done
strip -o initramfs/bin/stockade-watch "$WATCH"
strip -o initramfs/bin/stockade "$STOCKADE"
for b in "$WATCH" "$STOCKADE"; do
	ldd "$b" | awk '/=>/ {print $3} /ld-linux/ {print $1}' | while read -r lib; do
		[ -f "$lib" ] && cp -L "$lib" "initramfs$lib"
	done
done
clang -static -O2 -w -o initramfs/bin/skd-trigger "$HERE/crates/watch/tests/helper/skd-trigger.c"
[ -f "mod-$rel/skd_cred.ko" ] && cp "mod-$rel/skd_cred.ko" initramfs/lib/
# the container: busybox and the trigger helper, its default spec, running /t.sh as uid 65534
cp /bin/busybox initramfs/bin/skd-trigger initramfs/ctr/bin/
for a in sh echo cat sleep; do ln -sf busybox "initramfs/ctr/bin/$a"; done
cat >initramfs/ctr/t.sh <<'SH'
#!/bin/sh
skd-trigger dirty_pipe /tmp/skd-dp
skd-trigger splice_relay /bin/busybox
sh -c 'echo 1 > /proc/skd_cred_root && exec skd-trigger noop' && echo "exec-path: root now"
skd-trigger cred_root /proc/skd_cred_root
SH
chmod 755 initramfs/ctr/t.sh
(cd initramfs/bundle && "$STOCKADE" spec >/dev/null)
python3 - initramfs/bundle/config.json <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["root"] = {"path": "/ctr", "readonly": True}
c["process"]["args"] = ["/t.sh"]
c["process"]["user"] = {"uid": 65534, "gid": 65534}
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=1)
PY
cp "$HERE/crates/watch/qemu/guest-effects.sh" initramfs/init
chmod +x initramfs/init
(cd initramfs && find . | busybox cpio -o -H newc 2>/dev/null | gzip -1) >initramfs.cpio.gz
rm -rf initramfs

timeout 600 qemu-system-x86_64 -machine q35 -cpu max -m 1536 -smp 1 -nographic -no-reboot \
	-kernel "$KERNEL" -initrd initramfs.cpio.gz -append "console=ttyS0 panic=-1 quiet ${GUEST_ENV:-}" \
	</dev/null >guest.log 2>&1 || true
tr -d '\r' <guest.log | grep -E '^(GUEST|WATCH|RESULT|EVENT)' | tee results.txt
grep -q GUEST-DONE guest.log || { echo "FAIL: the guest did not finish (guest.log)"; exit 1; }
