#!/bin/sh
# Overhead of `stockade watch` (detect mode) on syscall-heavy loops, and its event throughput.
#
#   bench/watch-overhead.sh [ROUNDS [SECONDS]]   (root; needs clang, libbpf-dev, runc, busybox-static)
#
# 1. open/close, getpid, write (one byte to /dev/null), exec and fork loops (bench/watch-bench.c, pinned to CPU $BENCH_CPU),
#    on the host and inside a runc container, under three conditions that alternate every
#    round, in a rotating order: nothing attached ("base"), an empty raw sys_enter program
#    ("floor": what the kernel's syscall-tracing slow path and running a BPF program on every
#    syscall cost, bench/watch-floor.bpf.c), a running `stockade-watch` with the default
#    dispatcher hook ("watch"), one with `--syscall-hooks tracepoints` ("tp") and one with
#    `--syscall-hooks none` ("lean": no syscall hook, capability checks). ROUNDS rounds (default 30) of SECONDS per run
#    (default 0.3). Prints, per loop, the median CPU ns/op of each condition (the loop's own CPU
#    time and its children's, see watch-bench.c) and the median of the
#    per-round ratios against base with a 95 % confidence interval (order
#    statistics of the median). With WATCH_PREV=/path/to/another/stockade-watch, that binary is
#    a fourth condition ("prev"), for A/B comparisons of two sensor versions in one run; name
#    "prevlean" in CONDS for that binary's lean tier; "spliced" in CONDS: the dispatcher after
#    a container task has spliced a file into a pipe (SKD-RUN-044 then looks at every write).
#    LOOPS="openclose getpid" and CONDS="base lean leandev" choose loops and conditions
#    ("leandev": the lean tier with --lean-devices, its report-only cgroup/dev program).
# 2. an event flood: container processes make 1,000,000 bpf() calls in all, alternately
#    BPF_PROG_GET_NEXT_ID and BPF_MAP_GET_NEXT_ID (read-only, harmless), each of which the sensor
#    reports (SKD-RUN-015; the lean tier sees them through their CAP_SYS_ADMIN check: an invalid
#    command such as bpf(-1) checks no capability on Linux >= 6.9), at full speed and paced to
#    200,000/s, with 1 and 2 producers, under the dispatcher and the lean tier; prints the rate the producers reached (from their own clocks), the events
#    the kernel emitted, those in the JSON output, the ring-buffer drops and the CPU time
#    stockade-watch used. Beside them, the counted losses: ring-buffer drops, program runs the
#    kernel skipped (missed: recursion_misses), failed map operations and unreadable paths
#    (errs), and lean-tier merges (an event equal to the thread's previous one within 1 ms);
#    kernel + drops + missed + errs + merged must equal the calls (1,000,000, plus the few
#    other bpf() calls of the container's shell: at most a handful).
#    FLOOD_ONLY=1 skips part 1; FLOOD_REPEAT=N runs every flood N times (0: no flood).
set -eu
export LC_ALL=C
ROUNDS=${1:-30}
SECS=${2:-0.3}
BENCH_CPU=${BENCH_CPU:-1}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WATCH=${WATCH:-$HERE/target/release/stockade-watch}
[ -x "$WATCH" ] || (cd "$HERE" && cargo build -q --release -p stockade-watch --bins)
T=$(mktemp -d /tmp/skw-bench.XXXXXX)
ID=skw-bench-$$
WPID=
cleanup() {
	[ -n "$WPID" ] && kill "$WPID" 2>/dev/null || true
	runc --root "$T/runc" delete -f "$ID" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

clang -O2 -static -w -o "$T/watch-bench" "$HERE/bench/watch-bench.c"
clang -O2 -static -w -o "$T/skd-trigger" "$HERE/crates/watch/tests/helper/skd-trigger.c"
clang -O2 -w -o "$T/watch-floor" "$HERE/bench/watch-floor.c" -lbpf
clang -O2 -g -target bpf -I"$HERE/crates/watch/bpf" -I/usr/include/x86_64-linux-gnu \
	-c "$HERE/bench/watch-floor.bpf.c" -o "$T/watch-floor.bpf.o"

# a busybox container that runs `sleep`
mkdir -p "$T/bundle/rootfs/bin" "$T/bundle/rootfs/dev" "$T/bundle/rootfs/proc" "$T/bundle/rootfs/tmp"
cp /bin/busybox "$T/bundle/rootfs/bin/"
for a in sh sleep cat wait; do ln -s busybox "$T/bundle/rootfs/bin/$a"; done
cp "$T/watch-bench" "$T/skd-trigger" "$T/bundle/rootfs/bin/"
(cd "$T/bundle" && runc spec && sed -i 's/"terminal": true/"terminal": false/' config.json)
sed -i 's/^\(\s*\)"sh"$/\1"sleep", "3600"/' "$T/bundle/config.json"
(cd "$T/bundle" && runc --root "$T/runc" run -d "$ID" </dev/null >/dev/null 2>&1)

# start CONDITION [OUT]: base (nothing), floor (empty sys_enter program), watch (stockade-watch)
start() {
	# Empty the log first, here: the redirections below happen in the background child, so
	# without this the wait loop could match the previous condition's "running" line and start
	# measuring before this sensor is attached (which lost the first second of a flood).
	: >"$T/cond.err"
	case $1 in
	base) return 0 ;;
	floor) "$T/watch-floor" "$T/watch-floor.bpf.o" 2>"$T/cond.err" & ;;
	watch) "$WATCH" --format json -o "${2:-/dev/null}" --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	tp) "$WATCH" --syscall-hooks tracepoints --format json -o /dev/null --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	lean) "$WATCH" --syscall-hooks none --format json -o "${2:-/dev/null}" --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	leandev) "$WATCH" --syscall-hooks none --lean-devices --format json -o /dev/null --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	spliced) "$WATCH" --format json -o /dev/null --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	prev) "$WATCH_PREV" --format json -o /dev/null --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	prevlean) "$WATCH_PREV" --syscall-hooks none --format json -o /dev/null --runc-root "$T/runc" 2>"$T/cond.err" & ;;
	esac
	WPID=$!
	while ! grep -q "running" "$T/cond.err" 2>/dev/null; do
		kill -0 "$WPID" 2>/dev/null || { cat "$T/cond.err" >&2; exit 1; }
		sleep 0.02
	done
	# "spliced": the dispatcher after a container task spliced a file into a pipe (the Dirty
	# Pipe trigger), from when on it looks at every container write (SKD-RUN-044)
	if [ "$1" = spliced ]; then
		runc --root "$T/runc" exec --user 65534:65534 "$ID" skd-trigger dirty_pipe /dev/shm/skw-bench-dp >/dev/null
	fi
}
stop() {
	[ -n "$WPID" ] || return 0
	kill -TERM "$WPID"; wait "$WPID" 2>/dev/null || true; WPID=
}
# CPU seconds (user+system) a process has used so far
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }

LOOPS=${LOOPS:-openclose getpid write exec fork}
CONDS=${CONDS:-base floor watch tp lean}
case " $CONDS " in *" prev "*) ;; *) [ -n "${WATCH_PREV:-}" ] && CONDS="$CONDS prev" ;; esac
echo "# stockade watch overhead: $(uname -r), $(nproc) CPUs, $ROUNDS rounds of $SECS s per run, bench pinned to CPU $BENCH_CPU"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
r=0
[ "${FLOOD_ONLY:-0}" = 1 ] && r=$ROUNDS
while [ $r -lt "$ROUNDS" ]; do
	# rotate the order of the conditions every round
	order=$(echo $CONDS | awk -v r=$r '{for (i = 0; i < NF; i++) printf "%s ", $((i + r) % NF + 1)}')
	for c in $order; do
		start $c
		for where in host container; do
			for loop in $LOOPS; do
				if [ $where = host ]; then
					v=$("$T/watch-bench" $loop "$SECS" "$BENCH_CPU")
				else
					v=$(runc --root "$T/runc" exec "$ID" watch-bench $loop "$SECS" "$BENCH_CPU")
				fi
				echo "$r $v" >>"$T/$where-$loop-$c"
			done
		done
		stop
	done
	r=$((r + 1))
done

# median and 95 % interval of the median (order statistics, normal approximation)
stats() {
	sort -g | awk '{a[NR]=$1} END {
		n = NR; m = (n % 2) ? a[(n+1)/2] : (a[n/2] + a[n/2+1]) / 2
		k = int(n/2 - 0.98*sqrt(n)); if (k < 1) k = 1
		u = n + 1 - k
		printf "%.3f [%.3f, %.3f]", m, a[k], a[u] }'
}
med() { sort -g | awk '{a[NR]=$1} END {n=NR; printf "%.1f", (n%2) ? a[(n+1)/2] : (a[n/2]+a[n/2+1])/2}'; }
ratios() { join "$T/$1" "$T/$2" | awk '{printf "%.6f\n", $2/$3}'; }

if [ "${FLOOD_ONLY:-0}" != 1 ]; then
echo
echo "medians in CPU ns/op; ratios: median of per-round ratios against base, [95 % interval]"
printf "%-10s %-9s" where loop
for c in $CONDS; do printf " %10s" $c; done
for c in $CONDS; do [ $c = base ] || printf "  %-24s" "$c/base"; done
echo
for where in host container; do
	for loop in $LOOPS; do
		f=$T/$where-$loop
		printf "%-10s %-9s" $where $loop
		for c in $CONDS; do
			sort -k1,1 "$f-$c" >"$f-$c.s"
			printf " %10s" "$(cut -d' ' -f2 "$f-$c" | med)"
		done
		for c in $CONDS; do
			[ $c = base ] || printf "  %-24s" "$(ratios $where-$loop-$c.s $where-$loop-base.s | stats)"
		done
		echo
	done
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

echo
echo "# event flood: bpf(PROG/MAP_GET_NEXT_ID) calls in the container, each one event (SKD-RUN-015), 1,000,000 in all"
printf "%-6s %-10s %-10s %10s %8s %8s %8s %6s %6s %6s %7s %6s\n" hooks producers pace events/s seen kernel reported drops missed errs merged cpu_s
flood_rate() { awk '{n += $2; if (!s || $3 < s) s = $3; if ($4 > e) e = $4} END {printf "%.0f", n / (e - s)}'; }
stat_of() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" "$T/cond.err" | tail -1; }
rep=0
while [ $rep -lt "${FLOOD_REPEAT:-1}" ]; do
for fc in watch lean; do
for p in 1 2; do
	for pace in 0 200000; do
		N=$((1000000 / p)); per=$((pace / p))
		cmd=""; i=0
		while [ $i -lt $p ]; do cmd="$cmd skd-trigger flood $N $per cap &"; i=$((i + 1)); done
		start $fc "$T/flood.jsonl"
		c0=$(cpu_s "$WPID")
		runc --root "$T/runc" exec "$ID" sh -c "$cmd wait" >"$T/flood.out"
		sleep 1
		c1=$(cpu_s "$WPID")
		stop
		rate=$(flood_rate <"$T/flood.out")
		reported=$(grep -c '"SKD-RUN-015"' "$T/flood.jsonl" || true)
		errs=$(( $(stat_of map_errors) + $(stat_of unread_paths) + $(stat_of undecodable) ))
		printf "%-6s %-10s %-10s %10s %8s %8s %8s %6s %6s %6s %7s %6s\n" $fc $p "$([ $pace = 0 ] && echo full || echo $pace/s)" \
			"$rate" "$(stat_of container_syscalls)" "$(stat_of kernel_events)" "$reported" "$(stat_of drops)" \
			"$(stat_of missed_runs)" "$errs" "$(stat_of merged)" "$(echo "$c0 $c1" | awk '{printf "%.2f", $2 - $1}')"
		rm -f "$T/flood.jsonl"
	done
done
done
rep=$((rep + 1))
done
runc --root "$T/runc" exec "$ID" sh -c "skd-trigger flood 500000 0 cap & skd-trigger flood 500000 0 cap & wait" >"$T/flood.out"
echo "without watch, 2 producers: $(flood_rate <"$T/flood.out") calls/s"
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
