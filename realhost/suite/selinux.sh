#!/bin/sh
# The realhost guest suite for the SELinux boot (Debian's refpolicy, permissive; systemd as
# PID 1, cgroup v2 only): a bundle with process.selinuxLabel runs with that label, and the
# tmpfs mounts the runtime makes carry linux.mountLabel; for runc and for stockade; and stockade's
# runtime_lsm integration tests.
cd /realhost/in || exit 1
. ./lib.sh
export PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUNTIMES=${RUNTIMES:-runc stockade}

# the first context the loaded policy accepts (runcon refuses a context the policy does not know)
valid_context() {
	for c in "$@"; do
		if runcon "$c" true 2>/dev/null; then echo "$c"; return 0; fi
	done
	return 1
}

boot_facts() {
	want "PID 1" systemd "$(cat /proc/1/comm)" || return 1
	want "/sys/fs/cgroup" cgroup2fs "$(stat -fc %T /sys/fs/cgroup)" || return 1
	grep -q selinux /sys/kernel/security/lsm || fail "selinux not in $(cat /sys/kernel/security/lsm)"
	[ -f /sys/fs/selinux/enforce ] || fail "selinuxfs is not mounted (no policy loaded?)"
	echo "enforce=$(cat /sys/fs/selinux/enforce) policy=$(sed -n 's/^SELINUXTYPE=//p' /etc/selinux/config) init=$(tr -d '\0' </proc/1/attr/current)"
	# PID 1 stays kernel_t: the image's files carry no labels (built on a host without SELinux;
	# no relabel at boot under emulation), so nothing transitions. The policy itself is loaded.
	dmesg | grep -F 'Successfully loaded SELinux policy' || fail "systemd did not load the SELinux policy"
}

policy_loaded() {
	want "policy loaded (the class list is populated)" 1 "$(ls /sys/fs/selinux/class 2>/dev/null | grep -qx process && echo 1)"
}

# confined labels only: stockade's policy rightly refuses or warns about unconfined_t (SKD-ESC-035)
choose_labels() {
	PL=$(valid_context system_u:system_r:container_t:s0:c11,c22 system_u:system_r:svirt_lxc_net_t:s0:c11,c22 \
		system_u:system_r:container_t:s0 system_u:system_r:initrc_t:s0)
	ML=$(valid_context system_u:object_r:container_file_t:s0:c11,c22 system_u:object_r:svirt_sandbox_file_t:s0:c11,c22 \
		system_u:object_r:container_file_t:s0 system_u:object_r:tmp_t:s0)
	echo "labels: process $PL, mounts $ML"
}

# bundle RUNTIME DIR CMD: `RUNTIME spec` with a busybox rootfs, the labels, and a tmpfs at /mnt
bundle() {
	rm -rf "$2" && mkdir -p "$2/rootfs" && (cd "$2" && "$1" spec) || return 1
	busybox_rootfs_tar | tar -C "$2/rootfs" -xf - && mkdir -p "$2/rootfs/mnt" "$2/rootfs/run" || return 1
	sed -i -e 's/"terminal": true/"terminal": false/' \
		-e "s|^\([[:space:]]*\)\"sh\"\$|\1\"sh\", \"-c\", \"$3\"|" \
		-e "s|^\([[:space:]]*\)\"process\": {|&\"selinuxLabel\": \"$PL\",|" \
		-e "s|^\([[:space:]]*\)\"linux\": {|&\"mountLabel\": \"$ML\", \"cgroupsPath\": \"/rh-$(basename "$2")\",|" \
		-e 's|^\([[:space:]]*\)"mounts": \[|&{"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"]},|' \
		"$2/config.json"
	grep -q selinuxLabel "$2/config.json" && grep -q mountLabel "$2/config.json" || fail "could not edit $2/config.json"
}

labels() {
	[ -n "$PL" ] && [ -n "$ML" ] || { fail "the loaded policy accepts none of the candidate labels"; return 1; }
	rt=$(if [ "$1" = stockade ]; then echo /usr/local/bin/stockade; else command -v "$1"; fi)
	b=/tmp/se-$1
	bundle "$rt" "$b" 'cat /proc/self/attr/current; echo; grep -w /mnt /proc/self/mountinfo' || return 1
	# cgroupsPath is set (at the root, as engines pass one): without it the runtime nests under
	# this unit's cgroup, where no controller is enabled
	out=$(cd "$b" && "$rt" run "se-$1-$$" 2>"$b.err")
	echo "$out"
	cat "$b.err"
	want "process label" "$PL" "$(echo "$out" | head -1 | tr -d '\0')" || return 1
	echo "$out" | grep -Eq "context=\"?$ML\"?[, ]" || fail "the /mnt tmpfs does not carry mountLabel $ML"
}

t boot-selinux boot_facts
t selinux-policy policy_loaded
choose_labels
for rt in $RUNTIMES; do
	t "selinux-labels[$rt]" labels "$rt"
done
# stockade's SELinux integration tests (selinuxLabel, mountLabel, exec --process-label, labels the
# policy does not know: one error, nothing left behind)
runtime_tests_each runtime_lsm
