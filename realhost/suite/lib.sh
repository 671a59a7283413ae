# Shared by the guest suites: each test is a shell function run by `t NAME FUNC [ARGS]`; it
# prints one line `PASS NAME`, `FAIL NAME` (then the test's output, indented) or
# `SKIP NAME: REASON` (a test exits 77 after printing the reason as its last line). A test that
# passed with `SKIP: ...` lines in its output (a cargo test binary's skipped cases) has them
# printed below its PASS line as `  | inner SKIP: ...`.
# realhost/realhost.sh counts these lines; nothing else is counted.
t() {
	name=$1
	shift
	out=$("$@" 2>&1)
	rc=$?
	case $rc in
	0)
		echo "PASS $name"
		# a test binary that passed with cases it skipped inside says which (not counted)
		printf '%s\n' "$out" | grep -oE 'SKIP: .*' | sed 's/^/  | inner /'
		;;
	77) echo "SKIP $name: $(printf '%s\n' "$out" | tail -1)" ;;
	*)
		echo "FAIL $name (exit $rc)"
		printf '%s\n' "$out" | tail -25 | sed 's/^/  | /'
		;;
	esac
}

# fail MESSAGE: print it and fail the test
fail() { echo "$*"; return 1; }

# want WHAT EXPECTED ACTUAL
want() {
	if [ "$2" = "$3" ]; then return 0; fi
	echo "$1: want [$2], got [$3]"
	return 1
}

# The busybox-static root filesystem as a tar stream (for podman import).
busybox_rootfs_tar() {
	r=$(mktemp -d)
	chmod 0755 "$r" # mktemp -d is 0700; the tar keeps it for the root directory
	mkdir -p "$r/bin" "$r/etc" "$r/tmp" "$r/proc" "$r/sys" "$r/dev"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	printf 'root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnobody:x:65534:\n' >"$r/etc/group"
	chmod 1777 "$r/tmp"
	tar --numeric-owner --owner=0 --group=0 -C "$r" -cf - .
	rm -rf "$r"
}

# The runtime test binaries realhost.sh staged in tests/ (none with --no-cargo-tests): the binary
# they run is recreated at the path compiled into them (stockade-path) from stockade-test.
stage_runtime_tests() {
	[ -d tests ] || return 0
	p=$(cat stockade-path)
	mkdir -p "$(dirname "$p")" && cp stockade-test "$p"
}

# runtime_test BINARY: run one staged test binary (one test at a time, 900 s at most); its test
# lines, its result and every SKIP line it printed (--nocapture: libtest keeps a passing test's
# output otherwise).
runtime_test() {
	timeout 900 "$1" --test-threads=1 --nocapture >/tmp/rt.log 2>&1
	rc=$?
	grep -E '^test |^test result|panicked|SKIP' /tmp/rt.log
	[ $rc = 0 ] || { echo "$1: exit $rc (124: over 900 s)"; return 1; }
}

# runtime_tests_each [NAME...]: `t runtime[NAME]` for each staged binary (all when none named);
# one SKIP line when realhost.sh was run with --no-cargo-tests.
runtime_tests_each() {
	if [ ! -d tests ]; then
		t runtime-tests sh -c 'echo "no runtime test binaries were given (realhost.sh --no-cargo-tests)"; exit 77'
		return
	fi
	t runtime-stage stage_runtime_tests
	if [ $# -eq 0 ]; then set -- $(ls tests); fi
	for b in "$@"; do
		t "runtime[$b]" runtime_test "tests/$b"
	done
}
