#!/bin/sh
# Runs inside the new root filesystem (mmdebstrap customize hook): configures the guest that
# realhost/run.sh boots. Everything a test needs at run time comes in on the second disk instead.
set -eu
echo realhost >/etc/hostname
printf '127.0.0.1 localhost\n127.0.1.1 realhost\n' >/etc/hosts
printf '/dev/vda / ext4 rw,errors=remount-ro 0 0\n' >/etc/fstab
passwd -d root >/dev/null
# A real unprivileged user with subordinate ids (useradd writes /etc/subuid and /etc/subgid),
# lingering so systemd starts its user manager (a delegated cgroup v2 subtree) at boot.
useradd -m -u 1000 -s /bin/sh rhuser
grep -q '^rhuser:' /etc/subuid || echo 'rhuser:100000:65536' >>/etc/subuid
grep -q '^rhuser:' /etc/subgid || echo 'rhuser:100000:65536' >>/etc/subgid
mkdir -p /var/lib/systemd/linger && touch /var/lib/systemd/linger/rhuser
# Boot faster under software emulation: nothing on a tty, no timers.
systemctl mask getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyS1.service \
	e2scrub_all.timer e2scrub_reap.service fstrim.timer apt-daily.timer apt-daily-upgrade.timer \
	systemd-timesyncd.service 2>/dev/null || true
install -m 0644 /usr/local/lib/realhost/realhost-run.service /etc/systemd/system/
systemctl enable realhost-run.service
# selinux-basics would relabel at the first SELinux boot; the SELinux boot runs permissive and
# relabels only what the suite touches (see realhost/README.md).
rm -f /.autorelabel
# SELinux is off unless the kernel is booted with it (realhost/run.sh --selinux); then permissive.
if [ -f /etc/selinux/config ]; then
	sed -i -e 's/^SELINUX=.*/SELINUX=permissive/' -e 's/^SELINUXTYPE=.*/SELINUXTYPE=default/' /etc/selinux/config
fi
