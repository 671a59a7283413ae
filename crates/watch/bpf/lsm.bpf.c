// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
//
// Stockade watch, enforcement tier (a): BPF-LSM programs that return -EPERM before the effect.
// Loaded only when the kernel accepts trampoline programs and `bpf` is an active LSM (probed at
// start-up); this VM's kernel refuses them, so this tier is tested under QEMU (see
// crates/watch/qemu/). Scope: a task is confined when its cgroup2 id or one of its ancestors'
// ids is in `target_cgroups`, so the host and other cgroups are untouched.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define CGROUP_SUPER_MAGIC 0x27e0eb
#define FMODE_WRITE 0x2

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u32);
} target_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} lsm_events SEC(".maps");

static __always_inline int confined(void)
{
	u64 id = bpf_get_current_cgroup_id();
	if (bpf_map_lookup_elem(&target_cgroups, &id))
		return 1;
	for (int level = 1; level < 8; level++) {
		id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			break;
		if (bpf_map_lookup_elem(&target_cgroups, &id))
			return 1;
	}
	return 0;
}

/* Denial records lost because lsm_events was full (the denial itself still happens); user
 * space adds them to the drop count. */
u64 deny_drops = 0;

static __always_inline int deny(u32 hook, const unsigned char *name)
{
	struct event *e = bpf_ringbuf_reserve(&lsm_events, sizeof(*e), 0);
	if (!e)
		__sync_fetch_and_add(&deny_drops, 1);
	if (e) {
		__builtin_memset(e, 0, sizeof(*e));
		u64 pt = bpf_get_current_pid_tgid();
		e->kind = EV_DENY_LSM;
		e->verdict = VERDICT_DENIED;
		e->ts_ns = bpf_ktime_get_boot_ns();
		e->cgroup_id = bpf_get_current_cgroup_id();
		e->tid = (u32)pt;
		e->tgid = pt >> 32;
		e->args[0] = hook;
		if (name)
			bpf_probe_read_kernel_str(e->path, sizeof(e->path), name);
		bpf_get_current_comm(e->comm, sizeof(e->comm));
		bpf_ringbuf_submit(e, 0);
	}
	return -EPERM;
}

/* hook numbers reported in args[0] */
#define H_SB_MOUNT 1
#define H_MOVE_MOUNT 2
#define H_RELEASE_AGENT 3
#define H_PTRACE 4
#define H_EXEC 5

SEC("lsm/sb_mount")
int BPF_PROG(deny_mount, const char *dev_name, const struct path *path, const char *type,
	     unsigned long flags, void *data)
{
	if (!confined())
		return 0;
	return deny(H_SB_MOUNT, NULL);
}

SEC("lsm/move_mount")
int BPF_PROG(deny_move_mount, const struct path *from, const struct path *to)
{
	if (!confined())
		return 0;
	return deny(H_MOVE_MOUNT, NULL);
}

static __always_inline int is_release_agent(const unsigned char *n)
{
	char b[18] = {};
	bpf_probe_read_kernel_str(b, sizeof(b), n);
	const char ra[] = "release_agent";
	const char nr[] = "notify_on_release";
	int m1 = 1, m2 = 1;
	for (int i = 0; i < 14; i++)
		if (b[i] != ra[i])
			m1 = 0;
	for (int i = 0; i < 18; i++)
		if (b[i] != nr[i])
			m2 = 0;
	return m1 || m2;
}

SEC("lsm/file_open")
int BPF_PROG(deny_file_open, struct file *file)
{
	if (!(file->f_mode & FMODE_WRITE))
		return 0;
	if (file->f_inode->i_sb->s_magic != CGROUP_SUPER_MAGIC)
		return 0;
	const unsigned char *name = file->f_path.dentry->d_name.name;
	if (!is_release_agent(name))
		return 0;
	if (!confined())
		return 0;
	return deny(H_RELEASE_AGENT, name);
}

SEC("lsm/ptrace_access_check")
int BPF_PROG(deny_ptrace, struct task_struct *child, unsigned int mode)
{
	if (!confined())
		return 0;
	return deny(H_PTRACE, NULL);
}

SEC("lsm/bprm_check_security")
int BPF_PROG(deny_exec, struct linux_binprm *bprm)
{
	struct file *f = bprm->file;
	struct inode *ino = f->f_inode;
	struct task_struct *task = bpf_get_current_task_btf();
	/* fileless (memfd, deleted), or from a tmpfs mounted apart from the root (/tmp, /dev/shm) */
	int fileless = ino->__i_nlink == 0;
	int tmpfs = ino->i_sb->s_magic == 0x01021994 /* TMPFS_MAGIC */ &&
		    f->f_path.mnt != task->fs->root.mnt;
	if (!fileless && !tmpfs)
		return 0;
	if (!confined())
		return 0;
	return deny(H_EXEC, f->f_path.dentry->d_name.name);
}
