#!/bin/sh
# /init of the QEMU guest: runs `stockade-watch --enforce --cgroup /sys/fs/cgroup/ctr1` on a stock
# Debian 6.12 kernel booted with `lsm=...,bpf`, then tries each action outside and inside ctr1.
# Prints "RESULT <action> outside=<rc> inside=<rc>" lines for run-lsm-test.sh to check.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mkdir -p /sys/fs/cgroup/ctr1 /mnt/a /mnt/b /tmp/cg
echo "GUEST kernel $(uname -r) lsm=$(cat /sys/kernel/security/lsm 2>/dev/null)"

stockade-watch --enforce --cgroup /sys/fs/cgroup/ctr1 --format json -o /tmp/events.jsonl 2>/tmp/watch.err &
W=$!
i=0
while ! grep -q running /tmp/watch.err 2>/dev/null && [ $i -lt 200 ]; do sleep 0.1; i=$((i+1)); done
sed 's/^/WATCH /' /tmp/watch.err

cp /bin/skd-trigger /tmp/tmpexe

# each action in a fresh shell; inside = after moving that shell into ctr1
actions='
mount:mount -t tmpfs x /mnt/a && umount /mnt/a
newmount:skd-trigger fsopen_mount /mnt/b
release_agent:mount -t cgroup -o none,name=skw$$ cgroup /tmp/cg && { echo /bin/true > /tmp/cg/release_agent; r=$?; umount /tmp/cg; exit $r; }
ptrace:skd-trigger ptrace
exec_tmp:/tmp/tmpexe noop
exec_memfd:skd-trigger memfd_exec
'
echo "$actions" | while IFS=: read -r name cmd; do
	[ -n "$name" ] || continue
	sh -c "$cmd" >/dev/null 2>&1; out=$?
	sh -c "echo \$\$ > /sys/fs/cgroup/ctr1/cgroup.procs && $cmd" >/dev/null 2>&1; in=$?
	echo "RESULT $name outside=$out inside=$in"
done

kill $W; wait $W 2>/dev/null
sed 's/^/WATCH /' /tmp/watch.err | tail -2
sed -n 's/.*"rule":"\([^"]*\)".*"behaviour":"\([^"]*\)".*"verdict":"\([^"]*\)".*/EVENT \1 \2 \3/p' /tmp/events.jsonl
echo GUEST-DONE
poweroff -f
