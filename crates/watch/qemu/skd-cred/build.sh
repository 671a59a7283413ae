#!/bin/sh
# Builds the test module skd_cred.ko for Debian's kernel package linux-image-REL:
#   crates/watch/qemu/skd-cred/build.sh REL DIR
# Downloads (apt-get download, nothing installed) the kernel image, its headers, the common
# headers and kbuild into DIR/k-REL (kept as a cache; DIR/k-REL/boot/vmlinuz-REL is the kernel),
# and builds the module in DIR/mod-REL (DIR/mod-REL/skd_cred.ko; build log beside it), without
# its BTF (that needs pahole; the module has no BPF use). Exits
# non-zero, saying why, when the headers cannot be had or the build fails. Needs apt, make and
# the compiler the kernel was built with (gcc-12 for bookworm's kernels).
set -eu
rel=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)
src=$(cd "$(dirname "$0")" && pwd)
k=$dir/k-$rel
if [ ! -d "$k" ]; then
	rm -rf "$dir/dl-$rel" "$k.tmp" && mkdir -p "$dir/dl-$rel" "$k.tmp"
	deps=$(apt-cache depends "linux-headers-$rel" 2>/dev/null | sed -n 's/.*Depends: \(linux-headers-.*-common\|linux-kbuild-.*\)$/\1/p')
	(cd "$dir/dl-$rel" && apt-get download "linux-image-$rel" >/dev/null 2>&1) ||
		{ echo "skd-cred/build.sh: linux-image-$rel is not downloadable" >&2; exit 1; }
	(cd "$dir/dl-$rel" && apt-get download "linux-headers-$rel" $deps >/dev/null 2>&1) ||
		echo "skd-cred/build.sh: the headers of $rel are not downloadable" >&2
	for f in "$dir/dl-$rel"/*.deb; do dpkg-deb -x "$f" "$k.tmp"; done
	rm -rf "$dir/dl-$rel"
	mv "$k.tmp" "$k"
fi
hdr=$k/usr/src/linux-headers-$rel
[ -f "$hdr/Makefile" ] || { echo "skd-cred/build.sh: no headers for $rel" >&2; exit 1; }
# the package's Makefile includes the common tree by its installed path
sed -i "s#^include /usr/src/#include $k/usr/src/#" "$hdr/Makefile"
m=$dir/mod-$rel
rm -rf "$m" && mkdir -p "$m"
cp "$src/skd_cred.c" "$src/Kbuild" "$m/"
make -s -C "$hdr" M="$m" CONFIG_DEBUG_INFO_BTF_MODULES= modules >"$m/build.log" 2>&1 ||
	{ echo "skd-cred/build.sh: the module did not build ($m/build.log):" >&2; tail -5 "$m/build.log" >&2; exit 1; }
