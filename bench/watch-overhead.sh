#!/bin/sh
# Overhead of `stockade watch` (detect mode) on syscall-heavy loops, and its event throughput.
#
#   bench/watch-overhead.sh [ROUNDS]     (root; needs clang, runc, busybox-static)
#
# 1. open/close, getpid, exec and fork loops, each run alternately without and with a running
#    `stockade watch`, ROUNDS times (default 5), both on the host and inside a runc container
#    (the in-kernel filter passes container tasks, so that is the expensive case). Prints the
#    median ns/op of each and the ratio with/without.
# 2. an event flood: a container process makes N bpf(-1) calls (EINVAL, harmless), each of which
#    the sensor reports (SKD-RUN-015), at full speed and paced to 200,000/s; prints events/s,
#    events reported and ring-buffer drops.
set -eu
ROUNDS=${1:-5}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WATCH=${WATCH:-$HERE/target/release/stockade-watch}
[ -x "$WATCH" ] || (cd "$HERE" && cargo build -q --release -p stockade-watch --bins)
T=$(mktemp -d /tmp/skw-bench.XXXXXX)
ID=skw-bench-$$
cleanup() {
	runc --root "$T/runc" delete -f "$ID" >/dev/null 2>&1 || true
	[ -n "${WPID:-}" ] && kill "$WPID" 2>/dev/null || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

clang -O2 -static -w -o "$T/watch-bench" "$HERE/bench/watch-bench.c"
clang -O2 -static -w -o "$T/skd-trigger" "$HERE/crates/watch/tests/helper/skd-trigger.c"

# a busybox container that runs `sleep`
mkdir -p "$T/bundle/rootfs/bin" "$T/bundle/rootfs/dev" "$T/bundle/rootfs/proc" "$T/bundle/rootfs/tmp"
cp /bin/busybox "$T/bundle/rootfs/bin/"
for a in sh sleep cat wait; do ln -s busybox "$T/bundle/rootfs/bin/$a"; done
cp "$T/watch-bench" "$T/skd-trigger" "$T/bundle/rootfs/bin/"
(cd "$T/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/; s/"sh"$/"sleep", "3600"/' config.json)
sed -i 's/^\(\s*\)"sh"$/\1"sleep", "3600"/' "$T/bundle/config.json"
(cd "$T/bundle" && runc --root "$T/runc" run -d "$ID" </dev/null >/dev/null 2>&1)

start_watch() {
	"$WATCH" --format json -o "$1" --runc-root "$T/runc" 2>"$1.err" &
	WPID=$!
	while ! grep -q "running" "$1.err" 2>/dev/null; do sleep 0.05; done
}
stop_watch() {
	kill -TERM "$WPID"; wait "$WPID" 2>/dev/null || true; WPID=
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

N_openclose=1000000; N_getpid=2000000; N_exec=2000; N_fork=5000
echo "# stockade watch overhead: $(uname -r), $(nproc) CPUs, $ROUNDS rounds, medians in ns/op"
printf "%-10s %-9s %10s %10s %7s\n" where loop baseline watched ratio
for where in host container; do
	for loop in openclose getpid exec fork; do
		eval n=\$N_$loop
		: >"$T/base"; : >"$T/with"
		r=0
		while [ $r -lt "$ROUNDS" ]; do
			if [ $where = host ]; then run="$T/watch-bench $loop $n"
			else run="runc --root $T/runc exec $ID watch-bench $loop $n"; fi
			$run >>"$T/base"
			start_watch "$T/ev.jsonl"
			$run >>"$T/with"
			stop_watch
			r=$((r + 1))
		done
		b=$(median <"$T/base"); w=$(median <"$T/with")
		printf "%-10s %-9s %10s %10s %7s\n" $where $loop "$b" "$w" "$(echo "$w $b" | awk '{printf "%.3f", $1/$2}')"
	done
done

echo
echo "# event flood: bpf(-1) calls in the container, each one event (SKD-RUN-015), 1,000,000 in all"
printf "%-10s %-12s %12s %10s %10s\n" producers pace events/s reported drops
for p in 1 2; do
	for pace in 0 200000; do
		N=$((1000000 / p)); per=$((pace / p))
		cmd=""; i=0
		while [ $i -lt $p ]; do cmd="$cmd skd-trigger flood $N $per &"; i=$((i + 1)); done
		start_watch "$T/flood.jsonl"
		t0=$(date +%s.%N)
		runc --root "$T/runc" exec "$ID" sh -c "$cmd wait"
		t1=$(date +%s.%N)
		sleep 1
		stop_watch
		rate=$(echo "$t0 $t1" | awk '{printf "%.0f", 1000000/($2-$1)}')
		reported=$(grep -c '"SKD-RUN-015"' "$T/flood.jsonl" || true)
		drops=$(sed -n 's/.*drops=\([0-9]*\).*/\1/p' "$T/flood.jsonl.err" | tail -1)
		printf "%-10s %-12s %12s %10s %10s\n" $p "$( [ $pace = 0 ] && echo full || echo $pace/s)" "$rate" "$reported" "$drops"
		rm -f "$T/flood.jsonl"
	done
done
t0=$(date +%s.%N)
runc --root "$T/runc" exec "$ID" sh -c "skd-trigger flood 500000 & skd-trigger flood 500000 & wait"
t1=$(date +%s.%N)
echo "without watch, 2 producers: $(echo "$t0 $t1" | awk '{printf "%.0f", 1000000/($2-$1)}') calls/s"
echo "load average during the run: $(cut -d' ' -f1-3 /proc/loadavg)"
