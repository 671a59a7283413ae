#!/bin/sh
# The guest side of realhost/run.sh: unpacks the input disk (/dev/vdb, a tar: `run` plus bin/
# and whatever the caller added) into /realhost/in, runs `./run` there with output on ttyS1 (the
# host's out.log), then powers off. The host side reads REALHOST-EXIT.
stty -F /dev/ttyS1 -onlcr 2>/dev/null || true
rm -rf /realhost/in && mkdir -p /realhost/in
tar -C /realhost/in -xf /dev/vdb
if [ -x /realhost/in/bin/stockade ]; then install -m 0755 /realhost/in/bin/stockade /usr/local/bin/stockade; fi
echo "REALHOST-BOOTED kernel=$(uname -r) lsm=$(cat /sys/kernel/security/lsm) cgroup=$(stat -fc %T /sys/fs/cgroup) pid1=$(cat /proc/1/comm) uptime=$(cut -d' ' -f1 /proc/uptime)"
cd /realhost/in
sh ./run
rc=$?
echo "REALHOST-EXIT $rc"
sync
systemctl poweroff -ff
