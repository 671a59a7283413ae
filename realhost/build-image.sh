#!/usr/bin/env bash
# Builds the real-host guest: a Debian bookworm root filesystem made by mmdebstrap from Debian's
# packages (systemd as PID 1, AppArmor, SELinux refpolicy installed but off unless booted with it,
# podman, containerd, runc, crun, uidmap, Debian's 6.12 cloud kernel and its initramfs), written
# into a sparse ext4 disk image with `mkfs.ext4 -d` (no loop mount, no host mount).
#   realhost/build-image.sh [OUTDIR]        (default: target/realhost)
# OUTDIR gets rootfs.img, vmlinuz, initrd.img and stamp. The image is rebuilt when this script
# or realhost/guest/ changes (the stamp is a hash of both); otherwise the cached one is kept.
# Needs: mmdebstrap, e2fsprogs, network access to deb.debian.org. Runs as root.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/../target/realhost}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# one build at a time (scripts/test starts one in the background; realhost.sh then waits here)
exec 9>"$OUT/.lock"
flock 9
stamp=$(cat "$HERE/build-image.sh" $(find "$HERE/guest" -type f | sort) | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$stamp" ] && [ -f "$OUT/rootfs.img" ]; then
	echo "realhost: image cached in $OUT ($stamp)"
	exit 0
fi
start=$(date +%s)
rm -f "$OUT/stamp" "$OUT/rootfs.img" "$OUT/vmlinuz" "$OUT/initrd.img"
work=$(mktemp -d "$OUT/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root

PKGS=systemd,systemd-sysv,dbus,libpam-systemd,dbus-user-session,udev,kmod,iproute2,procps
PKGS=$PKGS,linux-image-6.12-cloud-amd64,initramfs-tools,zstd
PKGS=$PKGS,apparmor,podman,containerd,runc,crun,conmon,catatonit,uidmap,fuse-overlayfs
PKGS=$PKGS,containernetworking-plugins,busybox-static,util-linux,mount
PKGS=$PKGS,selinux-basics,selinux-policy-default,policycoreutils,selinux-utils

mmdebstrap --mode=root --variant=minbase --include="$PKGS" \
	--aptopt='APT::Install-Recommends "false"' \
	--dpkgopt='path-exclude=/usr/share/{doc,man,locale,info}/*' \
	--customize-hook='mkdir -p "$1/usr/local/lib/realhost"' \
	--customize-hook="copy-in $HERE/guest/. /usr/local/lib/realhost" \
	--customize-hook='chroot "$1" sh /usr/local/lib/realhost/setup.sh' \
	bookworm "$root" \
	"deb http://deb.debian.org/debian bookworm main" \
	"deb http://deb.debian.org/debian bookworm-updates main" \
	"deb http://deb.debian.org/debian-security bookworm-security main"

cp -L "$root"/boot/vmlinuz-* "$OUT/vmlinuz"
cp -L "$root"/boot/initrd.img-* "$OUT/initrd.img"
chmod 0644 "$OUT/vmlinuz" "$OUT/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
mkfs.ext4 -q -F -L realhost -d "$root" -E root_owner=0:0 "$OUT/rootfs.img.tmp" 6G
mv "$OUT/rootfs.img.tmp" "$OUT/rootfs.img"
echo "$stamp" >"$OUT/stamp"
echo "realhost: image built in $OUT in $(($(date +%s) - start))s"
