#!/usr/bin/env bash
# The real-host proof, one command: boots Debian bookworm (Debian's 6.12 cloud kernel, systemd as
# PID 1, cgroup v2 only) under QEMU twice, AppArmor on (suite/apparmor.sh) and then SELinux on
# (suite/selinux.sh), with this tree's `stockade` in /usr/local/bin, and prints
#   realhost: N passed, M failed, K skipped
# followed by the reason for each skip. Exits 1 when a test failed or a guest did not finish.
#   realhost/realhost.sh [--apparmor-only | --selinux-only] [--no-cargo-tests] [--out DIR]
# The image is built from Debian's packages by realhost/build-image.sh and cached under
# target/realhost (rebuilt when the build scripts change); each boot starts from it afresh.
# STOCKADE=PATH tests that binary instead of target/debug/stockade (built here otherwise).
# Wall time of each stage is printed as `realhost: stage NAME Ns`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
cd "$REPO"
boots="apparmor selinux" cargo_tests=1 out=
while [ $# -gt 0 ]; do
	case "$1" in
	--apparmor-only) boots=apparmor ;;
	--selinux-only) boots=selinux ;;
	--no-cargo-tests) cargo_tests=0 ;;
	--out) out=$2; shift ;;
	*) echo "realhost.sh: unknown option $1 (see the usage at the top of realhost/realhost.sh)" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out=$REPO/target/realhost/runs/$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$out"
stage() { echo "realhost: stage $1 $(($(date +%s) - $2))s"; }

t0=$(date +%s)
# Build and stage every binary first (one cargo lock at a time; scripts/test starts the cargo
# suite once `$out/stage/done` exists), so later builds cannot change what the guests run.
stagedir=$out/stage
mkdir -p "$stagedir/tests"
adds=(--add "$HERE/suite/lib.sh" --add "$HERE/oci-image.sh"
	--add "$REPO/deploy/runtime/containerd-stockade.toml" --add "$stagedir/cri-flow")
if [ "$cargo_tests" = 1 ]; then
	# stockade's runtime integration tests, run in the guest as root. They run the binary cargo
	# built for them (with the test-only knobs) at the path compiled into them, which the guest
	# recreates from stockade-test and stockade-path.
	# four of them (runtime_systemd: the systemd cgroup driver; runtime_lsm: AppArmor profiles in
	# the AppArmor boot, SELinux labels in the SELinux boot, each with its bad input): the whole
	# runtime suite takes longer than CI allows under software emulation
	for t in runtime_lifecycle runtime_bad_input runtime_systemd runtime_lsm; do
		# the test's own artifact: cargo also reports the `stockade` binary it builds for it
		exe=$(cargo test -q --locked -p stockade --test "$t" --no-run --message-format=json 2>/dev/null |
			grep -F '"kind":["test"]' | grep -F "\"name\":\"$t\"" |
			sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
		[ -x "$exe" ] || { echo "realhost.sh: could not build the test $t" >&2; exit 1; }
		cp "$exe" "$stagedir/tests/$t"
		adds+=(--add "$stagedir/tests/$t:tests/$t")
	done
	cp "$REPO/target/debug/stockade" "$stagedir/stockade-test"
	echo "$REPO/target/debug/stockade" >"$stagedir/stockade-path"
	adds+=(--add "$stagedir/stockade-test" --add "$stagedir/stockade-path")
fi
cargo build -q --locked -p stockade-cri-test --bin cri-flow
cp "$REPO/target/debug/cri-flow" "$stagedir/cri-flow"
if [ -z "${STOCKADE:-}" ]; then
	cargo build -q --locked -p stockade --bin stockade
	STOCKADE=$REPO/target/debug/stockade
fi
cp "$STOCKADE" "$stagedir/stockade"
export STOCKADE=$stagedir/stockade
touch "$stagedir/done"
stage build "$t0"

t0=$(date +%s)
"$HERE/build-image.sh" "$REPO/target/realhost"
stage image "$t0"


for boot in $boots; do
	t0=$(date +%s)
	flag=()
	[ "$boot" = selinux ] && flag=(--selinux)
	# the script's status is not used: the PASS/FAIL/SKIP lines are what count
	"$HERE/run.sh" "${flag[@]}" --out "$out/$boot" "${adds[@]}" "$HERE/suite/$boot.sh" || true
	if ! grep -q '^REALHOST-EXIT' "$out/$boot/out.log"; then
		echo "FAIL boot[$boot]: the guest did not finish (console: $out/$boot/console.log)" >>"$out/$boot/out.log"
	fi
	stage "boot-$boot" "$t0"
done

results=$(cat "$out"/*/out.log | grep -E '^(PASS|FAIL|SKIP) ' || true)
n=$(printf '%s\n' "$results" | grep -c '^PASS ' || true)
m=$(printf '%s\n' "$results" | grep -c '^FAIL ' || true)
k=$(printf '%s\n' "$results" | grep -c '^SKIP ' || true)
echo "realhost: $n passed, $m failed, $k skipped"
printf '%s\n' "$results" | grep -E '^(FAIL|SKIP) ' || true
# cases skipped inside test binaries that passed (not counted; e.g. SELinux cases in the AppArmor boot)
cat "$out"/*/out.log | grep -F '  | inner SKIP: ' | sort | uniq -c || true
echo "realhost: logs in $out"
[ "$m" = 0 ] && [ "$n" -gt 0 ]
