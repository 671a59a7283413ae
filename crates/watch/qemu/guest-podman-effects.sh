#!/bin/sh
# Runs in the real-host guest (crates/watch/qemu/run-podman-effects.sh), as root in the input
# directory: loads the test module, starts `stockade-watch --include-host`, and has podman
# containers write /proc/skd_cred_root (commit_creds(prepare_kernel_cred(&init_task)) in the
# writer): with a user namespace of their own (--uidmap), once followed by an exec and once by
# three seconds without exec, fork or exit; and rootful without one (the task is in the initial
# user namespace already: no move, no event). Prints GUEST, WATCH, RESULT and EVENT <json> lines.
cd "$(dirname "$0")"
. ./lib.sh
echo "GUEST kernel $(uname -r)"
if insmod ./skd_cred.ko 2>/tmp/insmod.err; then
	echo "GUEST module skd_cred loaded"
else
	echo "GUEST module skd_cred not loaded: $(cat /tmp/insmod.err)"
fi
./stockade-watch --include-host --format json -o /tmp/events.jsonl 2>/tmp/watch.err &
W=$!
for _ in $(seq 600); do grep -q running /tmp/watch.err 2>/dev/null && break; sleep 0.1; done
sed 's/^/WATCH /' /tmp/watch.err
busybox_rootfs_tar | podman import -q - localhost/skd-bb >/dev/null
res() { # name command...
	n=$1
	shift
	out=$("$@" 2>&1)
	echo "RESULT $n rc=$? $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
}
T=$PWD/skd-trigger
# AppArmor unconfined: podman's profile denies writes under /proc, and the module's proc file is
# the stand-in for the exploit's way into the kernel, not what is tested (the device node, given
# with --device, could not be written from a user namespace here: EACCES)
pr() {
	podman run --rm -v "$T:/bin/skd-trigger:ro" --security-opt apparmor=unconfined \
		--user 65534:65534 "$@"
}
U="--uidmap 0:200000:65536 --gidmap 0:200000:65536"
# shellcheck disable=SC2086
res podman-userns-timer pr $U --name skd-pu-timer localhost/skd-bb \
	skd-trigger cred_root /proc/skd_cred_root
# shellcheck disable=SC2086
res podman-userns-exec pr $U --name skd-pu-exec localhost/skd-bb \
	sh -c 'echo 1 > /proc/skd_cred_root && exec skd-trigger noop'
res podman-rootful pr --name skd-p-root localhost/skd-bb skd-trigger cred_root /proc/skd_cred_root
sleep 2
kill $W
wait $W 2>/dev/null
sed 's/^/WATCH /' /tmp/watch.err | tail -2
sed 's/^/EVENT /' /tmp/events.jsonl
echo GUEST-DONE
