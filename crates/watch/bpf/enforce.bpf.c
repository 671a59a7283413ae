// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
//
// Stockade watch, enforcement tier (b): cgroup BPF programs attached to each container's cgroup2
// directory. They need no trampolines, so they work on kernels that refuse BPF-LSM.
//   cgroup/dev         deny block devices (open and mknod) and mknod of character devices
//   cgroup/sysctl      deny writes to escape sysctls (core_pattern, modprobe, hotplug, ...)
// Every denial is reported through the ring buffer so user space can log it with the rule id.

/* UAPI headers only, no vmlinux.h: these programs carry no CO-RE relocations, so they load
 * even on a kernel without BTF. */
#include <linux/bpf.h>
#include <linux/types.h>
#include <bpf/bpf_helpers.h>

typedef __u32 u32;
typedef __u64 u64;

#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* UAPI values absent from vmlinux.h */
#define DEVCG_DEV_BLOCK 1
#define DEVCG_DEV_CHAR 2
#define DEVCG_ACC_MKNOD 1

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} deny_events SEC(".maps");

/* Denial records lost because deny_events was full (the denial itself still happens); user
 * space adds them to the drop count. Shared by every CPU: atomic add. */
u64 deny_drops = 0;

static __always_inline void report(u32 kind, u64 a0, u64 a1, u64 a2, const char *name, int len)
{
	struct event *e = bpf_ringbuf_reserve(&deny_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&deny_drops, 1);
		return;
	}
	__builtin_memset(e, 0, sizeof(*e));
	u64 pt = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->verdict = VERDICT_DENIED;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->tid = (u32)pt;
	e->tgid = pt >> 32;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	if (name && len > 0)
		bpf_probe_read_kernel_str(e->path, len < PATH_LEN ? len : PATH_LEN, name);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int allowed_char(u32 major, u32 minor)
{
	/* null zero full random urandom tty ptmx, and pty slaves */
	if (major == 1 && (minor == 3 || minor == 5 || minor == 7 || minor == 8 || minor == 9))
		return 1;
	if (major == 5 && (minor == 0 || minor == 2))
		return 1;
	if (major == 136)
		return 1;
	return 0;
}

SEC("cgroup/dev")
int dev_guard(struct bpf_cgroup_dev_ctx *ctx)
{
	/* read every ctx field into locals first: clang may otherwise load through a modified ctx */
	u32 access_type = ctx->access_type;
	u32 major = ctx->major;
	u32 minor = ctx->minor;
	u32 type = access_type & 0xffff;
	u32 access = access_type >> 16;

	if (type == DEVCG_DEV_BLOCK) {
		report(EV_DENY_DEV, type, major, minor | ((u64)access << 32), NULL, 0);
		return 0;
	}
	if (type == DEVCG_DEV_CHAR && (access & DEVCG_ACC_MKNOD) && !allowed_char(major, minor)) {
		report(EV_DENY_DEV, type, major, minor | ((u64)access << 32), NULL, 0);
		return 0;
	}
	return 1;
}

SEC("cgroup/sysctl")
int sysctl_guard(struct bpf_sysctl *ctx)
{
	if (!ctx->write)
		return 1;
	char name[48] = {};
	/* BPF_F_SYSCTL_BASE_NAME = 1: base name only ("core_pattern"); 0: "kernel/core_pattern" */
	long n = bpf_sysctl_get_name(ctx, name, sizeof(name), 0);
	if (n < 0)
		return 1;
	if (sysctl_name_is(name, "kernel/core_pattern", 19) ||
	    sysctl_name_is(name, "kernel/modprobe", 15) ||
	    sysctl_name_is(name, "kernel/hotplug", 14) ||
	    sysctl_name_is(name, "kernel/poweroff_cmd", 19) ||
	    sysctl_name_is(name, "kernel/sysrq", 12) ||
	    sysctl_name_is(name, "kernel/core_uses_pid", 20) ||
	    sysctl_name_is(name, "kernel/kptr_restrict", 20) ||
	    sysctl_name_is(name, "kernel/unprivileged_bpf_disabled", 32) ||
	    sysctl_name_is(name, "fs/suid_dumpable", 16)) {
		report(EV_DENY_SYSCTL, 0, 0, 0, name, sizeof(name));
		return 0;
	}
	return 1;
}
