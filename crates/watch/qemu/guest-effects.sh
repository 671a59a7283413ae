#!/bin/sh
# /init of the effects guest (crates/watch/qemu/run-effects-test.sh): on Debian's 6.1 kernel
# `stockade-watch --include-host` runs the default tier (the syscall dispatcher; the lean tier
# needs the cap_capable tracepoint, which 6.1 lacks), no enforcement, while a stockade container
# (its default spec: own user namespace, uid 65534) and host processes run the SKD-RUN-042 and
# SKD-RUN-044 triggers. Prints GUEST, WATCH, RESULT and EVENT <json> lines.
export PATH=/bin
if [ ! -e /.moved ]; then
	# pivot_root cannot leave the initramfs (it has no parent mount): move to a tmpfs first
	mount -t tmpfs -o mode=0755 root /newroot
	for d in /*; do [ "$d" = /newroot ] || cp -a "$d" /newroot/; done
	touch /newroot/.moved
	exec switch_root /newroot /init
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo # the console's first line carries the firmware's escape sequences
echo "GUEST kernel $(uname -r)"
if insmod /lib/skd_cred.ko 2>/tmp/insmod.err; then
	echo "GUEST module skd_cred loaded"
else
	echo "GUEST module skd_cred not loaded: $(cat /tmp/insmod.err)"
fi

stockade-watch --include-host --format json -o /tmp/events.jsonl 2>/tmp/watch.err &
W=$!
i=0
while ! grep -q running /tmp/watch.err 2>/dev/null && [ $i -lt 900 ]; do
	sleep 0.1
	i=$((i + 1))
done
sed 's/^/WATCH /' /tmp/watch.err

res() { # name command...: runs it, prints RESULT name rc=N and its output on one line
	n=$1
	shift
	out=$("$@" 2>&1)
	echo "RESULT $n rc=$? $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
}

# the stockade container: /t.sh (crates/watch/qemu/run-effects-test.sh writes it)
res stockade stockade run --bundle /bundle skd-effects
# host processes: in the host's namespaces (never reported), in a private mount namespace as
# host root (a task of the initial user namespace: no move to report), and in private user and
# mount namespaces (a container's shape without a runtime: reported as container "host")
res host-cred-root skd-trigger cred_root /proc/skd_cred_root
res host-mnt-cred-root unshare -m skd-trigger cred_root /proc/skd_cred_root
res host-userns-exec unshare -U -r -m sh -c 'echo 1 > /proc/skd_cred_root && exec skd-trigger noop'
res host-inh-beyond-bset unshare -m -p -f skd-trigger inh_beyond_bset
res host-dirty-pipe unshare -m -p -f skd-trigger dirty_pipe /tmp/skd-dp-host
sleep 2

kill $W
wait $W 2>/dev/null
sed 's/^/WATCH /' /tmp/watch.err | tail -3
sed 's/^/EVENT /' /tmp/events.jsonl
echo GUEST-DONE
poweroff -f
