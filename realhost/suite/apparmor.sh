#!/bin/sh
# The realhost guest suite for the AppArmor boot (systemd as PID 1, cgroup v2 only, AppArmor):
# podman rootful and rootless, AppArmor under podman's default profile, the CRI flow through
# containerd with the shipped deploy/runtime/containerd-stockade.toml (SystemdCgroup = true), and
# stockade's runtime integration tests. Every podman and CRI flow runs for runc and for stockade.
# Run by realhost/realhost.sh through realhost/run.sh; files come in /realhost/in.
cd /realhost/in || exit 1
. ./lib.sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
IMG=localhost/rh-bb:1
RUNTIMES=${RUNTIMES:-runc stockade}
rtbin() { if [ "$1" = stockade ]; then echo /usr/local/bin/stockade; else command -v "$1"; fi; }

boot_facts() {
	want "PID 1" systemd "$(cat /proc/1/comm)" || return 1
	want "/sys/fs/cgroup" cgroup2fs "$(stat -fc %T /sys/fs/cgroup)" || return 1
	grep -q cgroup /proc/filesystems && ! grep -q '^cgroup ' /proc/self/mounts || fail "a cgroup v1 hierarchy is mounted"
	want "AppArmor enabled" Y "$(cat /sys/module/apparmor/parameters/enabled)" || return 1
	grep -q apparmor /sys/kernel/security/lsm || fail "apparmor not in $(cat /sys/kernel/security/lsm)"
	systemctl is-active containerd.service >/dev/null || fail "containerd: $(systemctl is-active containerd.service)"
	echo "systemd $(systemctl --version | head -1), $(podman --version), $(containerd --version | cut -d' ' -f3), runc $(runc --version | head -1 | cut -d' ' -f3), $(crun --version | head -1)"
}

setup_images() {
	busybox_rootfs_tar | podman import --change 'CMD ["/bin/sh"]' - "$IMG" >/dev/null || return 1
	busybox_rootfs_tar >/tmp/rh-bb.tar
	chmod 0644 /tmp/rh-bb.tar
	(cd /tmp && runuser -u rhuser -- env HOME=/home/rhuser XDG_RUNTIME_DIR=/run/user/1000 \
		podman import --change 'CMD ["/bin/sh"]' /tmp/rh-bb.tar "$IMG" >/dev/null) || return 1
	./oci-image.sh /tmp/rh-pause.tar localhost/stockade-test/pause:1 /bin/sleep 2147483647 &&
		./oci-image.sh /tmp/rh-cri-bb.tar localhost/stockade-test/busybox:1 /bin/sh || return 1
	for i in pause cri-bb; do ctr -n k8s.io images import /tmp/rh-$i.tar >/dev/null || return 1; done
}

# podman RUNTIME ARGS...: rootful podman with that OCI runtime, its output
# (podman's default cgroup manager here: systemd, which passes --systemd-cgroup to the runtime)
pm() { rt=$1; shift; podman --runtime "$(rtbin "$rt")" "$@"; }

podman_echo() { # RT [cgroup manager]
	if [ -z "${2:-}" ]; then
		out=$(podman --runtime "$(rtbin "$1")" run --rm --network none "$IMG" echo hi 2>&1)
	else
		out=$(podman --runtime "$(rtbin "$1")" --cgroup-manager "$2" run --rm --network none "$IMG" echo hi 2>&1)
	fi
	want "podman run echo hi" hi "$out"
}

podman_logs_exec() {
	n=rh-logs-$1
	pm "$1" rm -f "$n" >/dev/null 2>&1
	pm "$1" run -d --name "$n" --network none "$IMG" sh -c 'echo hello; sleep 600' >/dev/null || return 1
	sleep 2
	r=0
	want "podman logs" hello "$(pm "$1" logs "$n" 2>&1)" || r=1
	want "podman exec" in-exec "$(pm "$1" exec "$n" echo in-exec 2>&1)" || r=1
	pm "$1" rm -f -t 0 "$n" >/dev/null 2>&1 || { echo "podman rm failed"; r=1; }
	return $r
}

podman_memory() {
	out=$(pm "$1" run --rm --network none --memory 64m "$IMG" cat /sys/fs/cgroup/memory.max 2>&1)
	want "memory.max under --memory 64m" 67108864 "$out"
}

podman_apparmor_label() {
	out=$(pm "$1" run --rm --network none "$IMG" cat /proc/self/attr/current 2>&1)
	echo "attr/current: $out"
	case "$out" in containers-default-*" (enforce)") ;; *) fail "not podman's default profile" ;; esac
	out=$(pm "$1" run --rm --network none --security-opt apparmor=unconfined "$IMG" cat /proc/self/attr/current 2>&1)
	want "attr/current with apparmor=unconfined" unconfined "$out"
}

# The profile has `deny @{PROC}/sysrq-trigger rwklx`; unmask takes podman's read-only bind off, so
# the profile is what stands in the way. `h` only prints sysrq's help to the guest's kernel log.
podman_apparmor_deny() {
	w='echo h > /proc/sysrq-trigger && echo written'
	out=$(pm "$1" run --rm --network none --security-opt unmask=/proc/sysrq-trigger "$IMG" sh -c "$w" 2>&1)
	echo "under the profile: $out"
	case "$out" in *"Permission denied"*) ;; *) fail "the write was not denied by the profile" ;; esac
	out=$(pm "$1" run --rm --network none --security-opt unmask=/proc/sysrq-trigger \
		--security-opt apparmor=unconfined "$IMG" sh -c "$w" 2>&1)
	echo "unconfined: $out"
	want "the same write without the profile" written "$out"
}

# rootless: a real user (rhuser, ids from /etc/subuid), its systemd user manager (lingering),
# state under XDG_RUNTIME_DIR
podman_rootless() {
	cd /tmp || return 1
	# lingering starts it at boot, but not necessarily before this unit under a slow boot
	systemctl start user@1000.service || return 1
	want "the user's runtime dir" 1000 "$(stat -c %u /run/user/1000 2>&1)" || return 1
	out=$(runuser -u rhuser -- env HOME=/home/rhuser XDG_RUNTIME_DIR=/run/user/1000 \
		DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus \
		podman --runtime "$(rtbin "$1")" run --rm --network none "$IMG" sh -c 'echo hi; cat /proc/self/uid_map' 2>&1)
	echo "$out"
	want "rootless echo hi" hi "$(echo "$out" | head -1)" || return 1
	echo "$out" | grep -Eq '^ *0 +1000 +1$' || fail "uid_map does not map container root to rhuser (1000)"
}

containerd_config() {
	# A pod network (bridge, host-local addresses, no masquerade: the guest has no NIC), from
	# Debian's CNI plugins in /usr/lib/cni; podman's own conflist needs iptables.
	mkdir -p /etc/cni/realhost.d
	cat >/etc/cni/realhost.d/10-realhost.conflist <<'X'
{"cniVersion": "0.4.0", "name": "realhost", "plugins": [
  {"type": "bridge", "bridge": "rh0", "isGateway": true, "ipMasq": false,
   "ipam": {"type": "host-local", "ranges": [[{"subnet": "10.88.77.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}
X
	# The shipped block (BinaryName = /usr/local/bin/stockade, SystemdCgroup = true) as shipped,
	# runc's with SystemdCgroup = true beside it, and the locally built pause image.
	{
		echo 'version = 2'
		echo '[plugins."io.containerd.grpc.v1.cri"]'
		echo '  sandbox_image = "localhost/stockade-test/pause:1"'
		echo '[plugins."io.containerd.grpc.v1.cri".cni]'
		echo '  bin_dir = "/usr/lib/cni"'
		echo '  conf_dir = "/etc/cni/realhost.d"'
		echo '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]'
		echo '  runtime_type = "io.containerd.runc.v2"'
		echo '  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]'
		echo '    SystemdCgroup = true'
		sed -n '/^\[plugins/,/^$/p' containerd-stockade.toml
	} >/etc/containerd/config.toml
	systemctl restart containerd.service || return 1
	i=0
	while ! ctr version >/dev/null 2>&1; do i=$((i + 1)); [ $i -lt 60 ] || fail "containerd did not restart"; sleep 1; done
}

# The CRI flow (RunPodSandbox ... StopPodSandbox). Under containerd's default profile the
# container has `cri-containerd.apparmor.d (enforce)` and a write the profile denies fails
# (`deny @{PROC}/sysrq-trigger rwklx`; --unmask takes containerd's read-only bind off, so the
# profile is what stands in the way); with `unconfined` the same write works.
SYSRQ_WRITE='echo h > /proc/sysrq-trigger && echo written'
cri_flow() { # RT
	# the shipped config sets SystemdCgroup = true
	./cri-flow --socket /run/containerd/containerd.sock --handler "$1" \
		--image localhost/stockade-test/busybox:1 --cgroup-parent stockade-test.slice \
		--apparmor runtime/default --expect-attr 'cri-containerd.apparmor.d (enforce)' \
		--unmask /proc/sysrq-trigger --write-denied "$SYSRQ_WRITE" \
		--name "rh-$1" --runtime-binary "$(rtbin "$1")"
}

cri_unconfined() { # RT
	./cri-flow --socket /run/containerd/containerd.sock --handler "$1" \
		--image localhost/stockade-test/busybox:1 --cgroup-parent stockade-test.slice \
		--apparmor unconfined --expect-attr unconfined \
		--unmask /proc/sysrq-trigger --write-allowed "$SYSRQ_WRITE" \
		--name "rh-unconfined-$1" --runtime-binary "$(rtbin "$1")"
}

# stockade host on this booted Debian host (issue 15): the kernel judged by its Debian package,
# runc's backport of CVE-2024-21626 fixed by its changelog, and AppArmor with containerd as a
# mitigation fact of the mount-based kernel bugs. Nothing is changed on the host.
host_scan() {
	t0=$(date +%s%N)
	stockade host >/tmp/host.txt 2>/tmp/host.err
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
	cat /tmp/host.txt /tmp/host.err
	# exit 1: vulnerable findings (open user namespaces, sysctls); 2 would be an error
	[ $rc -le 1 ] || { fail "stockade host: exit $rc"; return 1; }
	# verdict STATUS TEXT: a finding line starting with STATUS holds TEXT (fixed strings)
	verdict() { grep -F -- "$2" /tmp/host.txt | grep -q "^$1 "; }
	v=$(dpkg-query -W -f '${Version}' runc) || { fail "runc is not installed"; return 1; }
	verdict FIXED "SKD-HOST-002 runc CVE-2024-21626 $v" ||
		{ fail "runc $v: CVE-2024-21626 not judged fixed (Debian's backport)"; return 1; }
	for c in CVE-2025-31133 CVE-2025-52565 CVE-2025-52881; do
		if zgrep -q "$c" /usr/share/doc/runc/changelog.Debian.gz; then st=FIXED; else st=VULNERABLE; fi
		verdict $st "SKD-HOST-002 runc $c $v" || { fail "runc $v: $c not $st"; return 1; }
	done
	kp=linux-image-$(uname -r)
	kv=$(dpkg-query -W -f '${Version}' "$kp") || { fail "no package $kp"; return 1; }
	grep -F "SKD-HOST-001 kernel CVE-2024-1086 " /tmp/host.txt | grep -Fq "(package $kv)" ||
		{ fail "the kernel is not judged with its package version $kv"; return 1; }
	grep -q "apparmor is active and containerd applies its default container profile" /tmp/host.txt ||
		{ fail "AppArmor is not a mitigation fact"; return 1; }
	echo "stockade host: ${ms} ms (debug build, emulated)"
}

t boot boot_facts
t host-scan host_scan
t images setup_images
for rt in $RUNTIMES; do
	t "podman-echo[$rt]" podman_echo "$rt"
	t "podman-echo-cgroupfs[$rt]" podman_echo "$rt" cgroupfs
	t "podman-logs-exec[$rt]" podman_logs_exec "$rt"
	t "podman-memory[$rt]" podman_memory "$rt"
	t "apparmor-label[$rt]" podman_apparmor_label "$rt"
	t "apparmor-deny[$rt]" podman_apparmor_deny "$rt"
	t "podman-rootless[$rt]" podman_rootless "$rt"
done
t containerd-config containerd_config
for rt in $RUNTIMES; do
	t "cri[$rt]" cri_flow "$rt"
	t "cri-unconfined[$rt]" cri_unconfined "$rt"
done
# stockade's runtime integration tests (staged by realhost.sh), one result line per binary
runtime_tests_each
