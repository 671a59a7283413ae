#!/usr/bin/env bash
# Build stockade-probe as a fully static binary (glibc static, no new target needed) and print its
# path. The probe is dropped into arbitrary rootfs (busybox, distroless, scratch), so it must not
# need a dynamic loader.
#
#   scripts/build-probe.sh            # release build, prints the path
#   CARGO_TARGET_DIR=/tmp/t scripts/build-probe.sh
#
# Equivalent to:
#   RUSTFLAGS='-C target-feature=+crt-static -C relocation-model=static' \
#     cargo build -p stockade-probe --release --target x86_64-unknown-linux-gnu
# (--target keeps RUSTFLAGS away from build scripts and proc macros; relocation-model=static makes
# a classic static executable, for which `ldd` says "not a dynamic executable", instead of a
# static-pie.)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${PROBE_TARGET:-$(rustc -vV | sed -n 's/^host: //p')}"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --quiet -p stockade-probe --release --target "$target" >&2
dir="${CARGO_TARGET_DIR:-target}"
bin="$(cd "$dir" && pwd)/$target/release/stockade-probe"
if ldd "$bin" 2>&1 | grep -q '=>'; then
  echo "build-probe.sh: $bin is dynamically linked" >&2
  exit 1
fi
echo "$bin"
