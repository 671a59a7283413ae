#!/bin/sh
# SKD-RUN-042's initial-user-namespace half in podman containers, in the real-host guest
# (realhost/run.sh: Debian bookworm, Debian's 6.12 cloud kernel, systemd, podman):
#   crates/watch/qemu/run-podman-effects.sh [OUTDIR]
# Builds the test module crates/watch/qemu/skd-cred for the guest image's kernel (its headers by
# `apt-get download`), boots the image with `stockade-watch`, the static trigger helper and the
# module, and runs guest-podman-effects.sh there: `stockade-watch --include-host` while podman
# containers (a user namespace of their own, and rootful without one) write the module's proc
# file, which runs commit_creds(prepare_kernel_cred(&init_task)) in the writer. Prints the
# guest's RESULT lines and the SKD-RUN-042 events; exits non-zero unless each podman container
# gave the one expected (the events are in OUTDIR/out.txt).
# REALHOST_IMAGE: the image directory (default target/realhost; realhost/build-image.sh makes it).
set -eu
HERE=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${1:-$(mktemp -d /tmp/skw-qemu-podman.XXXXXX)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
IMG=${REALHOST_IMAGE:-$HERE/target/realhost}
WATCH=${WATCH:-$HERE/target/debug/stockade-watch}
[ -f "$IMG/vmlinuz" ] || { echo "run-podman-effects.sh: no image in $IMG (realhost/build-image.sh $IMG)" >&2; exit 2; }
[ -x "$WATCH" ] || { echo "run-podman-effects.sh: $WATCH is not built" >&2; exit 2; }
rel=$(file -b "$IMG/vmlinuz" | sed -n 's/.*version \([^ ]*\) .*/\1/p')
"$HERE/crates/watch/qemu/skd-cred/build.sh" "$rel" "$OUT"
clang -static -O2 -w -o "$OUT/skd-trigger" "$HERE/crates/watch/tests/helper/skd-trigger.c"
REALHOST_IMAGE=$IMG "$HERE/realhost/run.sh" --out "$OUT/run" \
	--add "$WATCH:stockade-watch" --add "$OUT/skd-trigger" --add "$OUT/mod-$rel/skd_cred.ko" \
	--add "$HERE/realhost/suite/lib.sh" \
	"$HERE/crates/watch/qemu/guest-podman-effects.sh" | tr -d '\r' >"$OUT/out.txt" || true
grep -E '^(GUEST|WATCH|RESULT)' "$OUT/out.txt"
grep -q '^GUEST-DONE' "$OUT/out.txt" || { echo "FAIL: the guest did not finish ($OUT/run)"; tail -20 "$OUT/out.txt"; exit 1; }
grep -q '^GUEST module skd_cred loaded' "$OUT/out.txt" || { echo "FAIL: the module did not load"; exit 1; }
# SKD-RUN-042 per podman container: (how, seen_at), and none attributed elsewhere
python3 - "$OUT/out.txt" <<'PY'
import json, sys
evs = [json.loads(l[6:]) for l in open(sys.argv[1]) if l.startswith("EVENT ")]
got = sorted((e["container"]["runtime"], e["args"]["how"][0], e["args"]["seen_at"])
             for e in evs if e["rule"] == "SKD-RUN-042")
want = sorted([("podman", "initial-user-namespace", "timer"),
               ("podman", "initial-user-namespace", "exec"),
               ("podman", "capabilities-beyond-bounding-set", "timer")])
for g in got:
    print("SKD-RUN-042", *g)
if got != want:
    print("FAIL: SKD-RUN-042 events", got, "want", want)
    sys.exit(1)
print("ok: SKD-RUN-042 in podman containers: userns at exec and by the timer, rootful by the bounding set")
PY
