#!/bin/sh
# Writes an OCI image archive (oci-layout, index.json, blobs) of a busybox-static root filesystem,
# for `ctr images import` and `podman load` where there is no registry:
#   realhost/oci-image.sh OUT.tar NAME CMD...
# NAME is the full reference (e.g. localhost/stockade-test/busybox:1), stored in the index both
# as io.containerd.image.name and as org.opencontainers.image.ref.name. CMD is the image's Cmd
# (e.g. `/bin/sleep 2147483647` for a pause image). Needs busybox (static), tar, sha256sum.
set -eu
[ $# -ge 3 ] || { echo "usage: realhost/oci-image.sh OUT.tar NAME CMD..." >&2; exit 2; }
out=$1 name=$2
shift 2
bb=$(command -v busybox)
w=$(mktemp -d "${TMPDIR:-/tmp}/oci-image.XXXXXX")
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/root/bin" "$w/root/etc" "$w/root/proc" "$w/root/sys" "$w/root/dev" "$w/root/tmp" "$w/oci/blobs/sha256"
install -m 0755 "$bb" "$w/root/bin/busybox"
for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$w/root/bin/$a"; done
printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$w/root/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$w/root/etc/group"
chmod 1777 "$w/root/tmp"
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$w/root" -cf "$w/layer.tar" .
blob() { # FILE -> moves it into blobs, prints "digest size"
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(stat -c %s "$1")
	mv "$1" "$w/oci/blobs/sha256/$d"
	echo "$d $s"
}
set -- "$@"
cmd=""
for c in "$@"; do cmd="$cmd${cmd:+,}\"$c\""; done
read -r ld ls <<EOF2
$(blob "$w/layer.tar")
EOF2
printf '{"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"],"Cmd":[%s]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
	"$cmd" "$ld" >"$w/config.json"
read -r cd cs <<EOF2
$(blob "$w/config.json")
EOF2
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
	"$cd" "$cs" "$ld" "$ls" >"$w/manifest.json"
read -r md ms <<EOF2
$(blob "$w/manifest.json")
EOF2
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
	"$md" "$ms" "$name" "${name##*:}" >"$w/oci/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$w/oci/oci-layout"
tar --owner=0 --group=0 --numeric-owner -C "$w/oci" -cf "$out" oci-layout index.json blobs
