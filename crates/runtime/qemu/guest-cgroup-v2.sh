#!/bin/sh
# /init of the pure cgroup v2 guest (run-cgroup-v2.sh): stockade's cgroup resources, the eBPF
# device program, the freezer, events --stats, OOM events and update, checked from the host side
# of the guest (the cgroup files) and from inside the container; then AppArmor profiles.
export PATH=/bin
if [ "${1:-}" != stage2 ]; then
	# pivot_root cannot leave the initramfs (rootfs): move to a tmpfs root first.
	mkdir -p /newroot && mount -t tmpfs -o size=800m root /newroot
	cp -a /bin /lib /lib64 /cfg /init /newroot/
	mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/tmp /newroot/run
	exec switch_root /newroot /init stage2
fi
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmp /tmp
mount -t tmpfs run /run
echo; echo "GUEST kernel $(uname -r) v1=$(grep -c ' - cgroup ' /proc/self/mountinfo) controllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
export STOCKADE_POLICY=off STOCKADE_RUNTIME_CONFIG=/nonexistent
S="stockade --root /run/stockade --log /tmp/stockade.log"

mkdir -p /tmp/rootfs/bin /tmp/rootfs/proc /tmp/rootfs/sys /tmp/rootfs/dev /tmp/rootfs/tmp
cp /bin/busybox /tmp/rootfs/bin/
for a in sh cat head tail sleep echo grep; do ln -s busybox /tmp/rootfs/bin/$a; done
for c in /cfg/*.json; do
	n=$(basename "$c" .json)
	mkdir -p /tmp/b/$n && cp "$c" /tmp/b/$n/config.json
done

check() { # name expected actual
	if [ "$2" = "$3" ]; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL want [$2] got [$3]"; fi
}
has() { # name needle file
	if grep -q "$2" "$3"; then echo "CHECK $1 ok"; else echo "CHECK $1 FAIL [$2] not in: $(head -c 400 "$3")"; fi
}

# 1. Every resource, applied at create.
$S run -d -b /tmp/b/res res >/tmp/res.out 2>&1
check run-res 0 $?
pid=$($S state res | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
CG=/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/$pid/cgroup)
check cgroup-dir /sys/fs/cgroup/res "$CG"
r() { cat "$CG/$1" 2>&1; }
check memory.max 67108864 "$(r memory.max)"
check memory.swap.max 33554432 "$(r memory.swap.max)"
check memory.low 33554432 "$(r memory.low)"
check memory.high 50331648 "$(r memory.high)"
check pids.max 30 "$(r pids.max)"
check cpu.weight 20 "$(r cpu.weight)"
check cpu.max "50000 100000" "$(r cpu.max)"
check cpuset.cpus 0 "$(r cpuset.cpus)"
check cpuset.mems 0 "$(r cpuset.mems)"
if [ -e "$CG/io.weight" ]; then
	check io.weight "default 4950" "$(r io.weight)"
elif [ -e "$CG/io.bfq.weight" ]; then
	check io.bfq.weight "default 500" "$(r io.bfq.weight)"
else
	echo "CHECK io.weight FAIL no io.weight or io.bfq.weight in $CG"
fi
check hugetlb.2MB.max 4194304 "$(r hugetlb.2MB.max)"
# Inside: the container's own cgroup at /sys/fs/cgroup.
check inside-memory.max 67108864 "$($S exec res cat /sys/fs/cgroup/memory.max 2>&1)"
# The eBPF device program: /dev/kmsg is bound in but not allowed.
out=$($S exec res head -c 1 /kmsg 2>&1)
case "$out" in *"not permitted"*) echo "CHECK device-program ok" ;; *) echo "CHECK device-program FAIL [$out]" ;; esac
check device-null "" "$($S exec res sh -c 'echo x > /dev/null' 2>&1)"
# Freezer.
$S pause res
check pause 0 $?
check cgroup.freeze 1 "$(r cgroup.freeze)"
$S state res >/tmp/st
has state-paused '"status": "paused"' /tmp/st
$S resume res
check resume 0 $?
check cgroup.thawed 0 "$(r cgroup.freeze)"
# events --stats
$S events --stats res >/tmp/ev 2>&1
has stats-type '"type":"stats"' /tmp/ev
has stats-pids '"current":1' /tmp/ev
# update
$S update --memory 128m --pids-limit 40 --cpu-quota 20000 --cpu-share 1024 res >/tmp/upd 2>&1
check update 0 $?
check update-memory.max 134217728 "$(r memory.max)"
check update-pids.max 40 "$(r pids.max)"
check update-cpu.max "20000 100000" "$(r cpu.max)"
check update-cpu.weight 39 "$(r cpu.weight)"
echo '{"memory":{"limit":100663296,"swap":134217728}}' | $S update -r - res
check update-resources 0 $?
check update-swap.max 33554432 "$(r memory.swap.max)"
$S delete -f res
check delete 0 $?
check cgroup-removed no "$([ -d "$CG" ] && echo yes || echo no)"

# 2. An OOM kill is an "oom" event.
$S run -d -b /tmp/b/oom oom >/tmp/oom.out 2>&1
check run-oom 0 $?
$S events --interval 200ms oom >/tmp/oomev 2>&1 &
E=$!
i=0
while ! grep -q '"type":"oom"' /tmp/oomev && [ $i -lt 100 ]; do sleep 0.2; i=$((i+1)); done
kill $E 2>/dev/null; wait $E 2>/dev/null
has oom-event '"type":"oom"' /tmp/oomev
has oom-kill-count '"oomKill":1' /tmp/oomev
$S delete -f oom
check oom-delete 0 $?

# 3. AppArmor (enabled in Debian's kernel): a profile applied at exec for run and exec; a
#    write it denies fails inside and succeeds without it; a profile not loaded is refused.
mkdir -p /sys/kernel/security && mount -t securityfs securityfs /sys/kernel/security 2>/dev/null
if [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" != Y ]; then
	echo "CHECK apparmor-enabled FAIL AppArmor is not enabled in the guest kernel"
elif ! command -v apparmor_parser >/dev/null; then
	echo "CHECK apparmor-parser FAIL apparmor_parser is not in the initramfs (apt-get download apparmor)"
else
	cat >/tmp/aa-profile <<'EOP'
profile stockade-test flags=(attach_disconnected,mediate_deleted) {
  file,
  capability,
  network,
  mount,
  umount,
  pivot_root,
  signal,
  ptrace,
  unix,
  deny /dev/shm/denied w,
}
EOP
	apparmor_parser -r -K /tmp/aa-profile >/tmp/aa.out 2>&1
	check apparmor-load 0 $?
	$S run -b /tmp/b/aa aa >/tmp/aa.run 2>&1
	check apparmor-run-current "stockade-test (enforce)" "$(head -1 /tmp/aa.run)"
	check apparmor-run-denied denied "$(tail -1 /tmp/aa.run)"
	case "$(cat /tmp/aa.run)" in *"Permission denied"*) echo "CHECK apparmor-run-eacces ok" ;; *) echo "CHECK apparmor-run-eacces FAIL [$(cat /tmp/aa.run)]" ;; esac
	$S run -b /tmp/b/noaa noaa >/tmp/noaa.run 2>&1
	check apparmor-none-current unconfined "$(head -1 /tmp/noaa.run)"
	check apparmor-none-wrote wrote "$(tail -1 /tmp/noaa.run)"
	$S run -d -b /tmp/b/plain plain >/dev/null 2>&1
	check apparmor-exec-current "stockade-test (enforce)" "$($S exec --apparmor stockade-test plain cat /proc/self/attr/current 2>&1)"
	out=$($S exec --apparmor stockade-no-such plain true 2>&1)
	case "$out" in *'"stockade-no-such" is not loaded'*) echo "CHECK apparmor-exec-missing ok" ;; *) echo "CHECK apparmor-exec-missing FAIL [$out]" ;; esac
	$S delete -f plain
	out=$($S run -b /tmp/b/aamissing aamissing 2>&1)
	case "$out" in *'"stockade-no-such" is not loaded'*) echo "CHECK apparmor-run-missing ok" ;; *) echo "CHECK apparmor-run-missing FAIL [$out]" ;; esac
	check apparmor-missing-nothing-left "" "$(ls /run/stockade; ls -d /sys/fs/cgroup/aamissing 2>/dev/null)"
fi

# 4. Nothing left.
check nothing-left "" "$(ls /run/stockade; ls -d /sys/fs/cgroup/res /sys/fs/cgroup/oom /sys/fs/cgroup/aa /sys/fs/cgroup/noaa /sys/fs/cgroup/plain 2>/dev/null)"
sed 's/^/LOG /' /tmp/stockade.log | head -20
echo GUEST-DONE
poweroff -f
