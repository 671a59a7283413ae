// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
//
// Stockade watch sensor: syscall tracepoints and the BTF exec tracepoint for container-escape
// behaviour. Only tracepoint, tp_btf and ring-buffer features are used, so it loads on kernels
// that refuse BPF trampolines (fentry/LSM).
//
// Filtering happens here, before anything is reserved in the ring buffer: a task is a candidate
// when its mount or pid namespace differs from the host's (the inode numbers user space passes
// in through rodata). On hybrid cgroup hosts containers made by runc/podman with cgroupfs sit in
// the cgroup2 root, so the cgroup2 id cannot tell them from the host; namespaces can. User space
// attributes each event to a container from the cgroup names carried in the event and drops the
// few host processes that run in a private namespace.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile u32 host_mntns = 0;
const volatile u32 host_pidns = 0;
const volatile u32 self_tgid = 0;
/* Wake the reader only when this many bytes are pending; it also polls on a timer. */
const volatile u64 wakeup_bytes = 256 * 1024;
/* Bit n set: send SIGKILL to the container task that triggers event kind n (reactive tier). */
volatile u64 kill_mask = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* 0 drops, 1 emitted, 2 container syscalls seen, 3 kills, 4 ring-buffer bytes pending at the
 * last submit on this CPU */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 5);
	__type(key, u32);
	__type(value, u64);
} stats SEC(".maps");

struct path_key {
	u32 prefixlen;
	char data[PATH_LEN];
};

/* Absolute path prefix -> OPEN_CLASS_* (| CLASS_WRITE_ONLY); filled by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 512);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct path_key);
	__type(value, u32);
} path_classes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct path_key);
} scratch SEC(".maps");

/* Mount namespaces of containers under enforcement: only their tasks are ever killed. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u32);
	__type(value, u32);
} enforced_mntns SEC(".maps");

/* cgroup2 ids of containers under enforcement (covers tasks in child namespaces too). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, u64);
	__type(value, u32);
} enforced_cgroups SEC(".maps");

/* So that libbpf-cargo generates Rust mirrors of these types. */
struct event _event_for_codegen = {};

static __always_inline void stat_inc(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++;
}

/* The hot path of every traced syscall: direct BTF loads from the current task (no helper call
 * per pointer hop), then an early return for host tasks. */
static __always_inline int in_container(struct task_struct *unused)
{
	struct task_struct *t = bpf_get_current_task_btf();
	u32 mntns = t->nsproxy->mnt_ns->ns.inum;
	if (mntns != host_mntns && mntns != 0)
		goto yes;
	if (t->thread_pid->level > 0)
		goto yes;
	return 0;
yes:
	if (t->tgid == self_tgid)
		return 0;
	return 1;
}

struct kernfs_node___old {
	struct kernfs_node *parent;
} __attribute__((preserve_access_index));

static __always_inline struct kernfs_node *kn_parent(struct kernfs_node *kn)
{
	if (bpf_core_field_exists(kn->__parent))
		return BPF_CORE_READ(kn, __parent);
	return BPF_CORE_READ((struct kernfs_node___old *)kn, parent);
}

static __always_inline void cg_names(struct event *e, struct task_struct *task)
{
	int id = bpf_core_enum_value(enum cgroup_subsys_id, pids_cgrp_id);
	struct cgroup *cg = NULL;
	struct kernfs_node *kn, *parent;

	if (id >= 0 && id < CGROUP_SUBSYS_COUNT)
		cg = BPF_CORE_READ(task, cgroups, subsys[id], cgroup);
	if (cg) {
		kn = BPF_CORE_READ(cg, kn);
		parent = kn_parent(kn);
		if (!parent)
			cg = NULL; /* root of the pids hierarchy: try the default hierarchy */
	}
	if (!cg)
		cg = BPF_CORE_READ(task, cgroups, dfl_cgrp);
	if (!cg)
		return;
	kn = BPF_CORE_READ(cg, kn);
	bpf_probe_read_kernel_str(e->cg_leaf, sizeof(e->cg_leaf), BPF_CORE_READ(kn, name));
	parent = kn_parent(kn);
	if (parent) {
		bpf_probe_read_kernel_str(e->cg_parent, sizeof(e->cg_parent),
					  BPF_CORE_READ(parent, name));
		struct kernfs_node *gp = kn_parent(parent);
		if (gp)
			bpf_probe_read_kernel_str(e->cg_grand, sizeof(e->cg_grand),
						  BPF_CORE_READ(gp, name));
	}
}

static __always_inline struct event *reserve(u32 kind, struct task_struct *task)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(0);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	u64 pt = bpf_get_current_pid_tgid();
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->tid = (u32)pt;
	e->tgid = pt >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	u32 level = BPF_CORE_READ(task, thread_pid, level);
	e->vpid = BPF_CORE_READ(task, thread_pid, numbers[level & 7].nr);
	e->pidns = BPF_CORE_READ(task, thread_pid, numbers[level & 7].ns, ns.inum);
	e->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	e->cap_eff = BPF_CORE_READ(task, cred, cap_effective.val);
	/* start of the container's init, when the pid-namespace reaper shares the task's mount
	 * namespace (not so in a container that shares the host pid namespace: 0 then) */
	struct task_struct *reaper = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, child_reaper);
	if (BPF_CORE_READ(reaper, nsproxy, mnt_ns, ns.inum) == e->mntns)
		e->reaper_start_ns = BPF_CORE_READ(reaper, start_boottime);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	cg_names(e, task);
	return e;
}

static __always_inline int runtime_helper(const char *c)
{
	/* runc:[0:PARENT] runc:[1:CHILD] runc:[2:INIT], crun, conmon: a container being built */
	if (c[0] == 'r' && c[1] == 'u' && c[2] == 'n' && c[3] == 'c' && c[4] == ':')
		return 1;
	if (c[0] == 'c' && c[1] == 'r' && c[2] == 'u' && c[3] == 'n' && c[4] == 0)
		return 1;
	if (c[0] == 'c' && c[1] == 'o' && c[2] == 'n' && c[3] == 'm' && c[4] == 'o' && c[5] == 'n')
		return 1;
	return 0;
}

static __always_inline void submit(struct event *e, struct task_struct *task)
{
	if ((kill_mask & (1ULL << (e->kind & 63))) && !runtime_helper(e->comm) &&
	    (bpf_map_lookup_elem(&enforced_mntns, &e->mntns) ||
	     bpf_map_lookup_elem(&enforced_cgroups, &e->cgroup_id))) {
		bpf_send_signal(9);
		e->verdict = VERDICT_KILLED;
		stat_inc(3);
	}
	u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	u32 k = 4;
	u64 *pending = bpf_map_lookup_elem(&stats, &k);
	if (pending)
		*pending = avail;
	stat_inc(1);
	bpf_ringbuf_submit(e, avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

#define ENTER_PROLOGUE()                                                                  \
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();             \
	if (!in_container(task))                                                           \
		return 0;                                                                  \
	stat_inc(2);

/* Syscall tracepoint records hold only the syscall's own arguments, and the kernel refuses to
 * attach a program that reads past them (EACCES), so callers pass exactly the ones that exist. */
static __always_inline int emit_args(u32 kind, u64 a0, u64 a1, u64 a2, u64 a3,
				     struct task_struct *task)
{
	struct event *e = reserve(kind, task);
	if (!e)
		return 0;
	e->args[0] = a0;
	e->args[1] = a1;
	e->args[2] = a2;
	e->args[3] = a3;
	submit(e, task);
	return 0;
}

#define A(n) (ctx->args[n])

/* ---- open family: path classification through the LPM trie and two suffix rules ---- */

static __always_inline int suffix_is(const char *buf, int len, const char *lit, int litlen)
{
	/* len counts the NUL; the string is buf[0..len-1) */
	int start = len - 1 - litlen;
	if (start < 0)
		return 0;
	for (int i = 0; i < 20; i++) {
		if (i >= litlen)
			break;
		if (buf[(start + i) & (PATH_LEN - 1)] != lit[i])
			return 0;
	}
	return buf[(start - 1) & (PATH_LEN - 1)] == '/' || start == 0;
}

/* /proc/<digits>/{mem,environ,root,cwd}: returns OPEN_CLASS_* or 0; *target = pid */
static __always_inline u32 proc_pid_class(const char *b, u32 *target)
{
	if (!(b[0] == '/' && b[1] == 'p' && b[2] == 'r' && b[3] == 'o' && b[4] == 'c' &&
	      b[5] == '/'))
		return 0;
	u32 pid = 0;
	int i = 6;
	for (; i < 6 + 8; i++) {
		char c = b[i];
		if (c < '0' || c > '9')
			break;
		pid = pid * 10 + (c - '0');
	}
	if (i == 6 || b[i] != '/')
		return 0;
	*target = pid;
	const char *r = &b[i + 1];
	if (r[0] == 'm' && r[1] == 'e' && r[2] == 'm' && r[3] == 0)
		return OPEN_CLASS_PROC_MEM | CLASS_WRITE_ONLY;
	if (r[0] == 'e' && r[1] == 'n' && r[2] == 'v' && r[3] == 'i' && r[4] == 'r' &&
	    r[5] == 'o' && r[6] == 'n' && r[7] == 0)
		return OPEN_CLASS_PROC_FOREIGN;
	if (r[0] == 'r' && r[1] == 'o' && r[2] == 'o' && r[3] == 't' && (r[4] == 0 || r[4] == '/'))
		return OPEN_CLASS_PROC_FOREIGN;
	if (r[0] == 'c' && r[1] == 'w' && r[2] == 'd' && (r[3] == 0 || r[3] == '/'))
		return OPEN_CLASS_PROC_FOREIGN;
	return 0;
}

static __always_inline int handle_open(const char *upath, u64 flags, struct task_struct *task)
{
	u32 zero = 0;
	struct path_key *k = bpf_map_lookup_elem(&scratch, &zero);
	if (!k)
		return 0;
	int len = bpf_probe_read_user_str(k->data, sizeof(k->data), upath);
	if (len <= 1)
		return 0;
	u32 cls = 0, target = 0;
	if (suffix_is(k->data, len, "release_agent", 13))
		cls = OPEN_CLASS_RELEASE_AGENT | CLASS_WRITE_ONLY;
	else if (suffix_is(k->data, len, "notify_on_release", 17))
		cls = OPEN_CLASS_NOTIFY_ON_RELEASE | CLASS_WRITE_ONLY;
	else if (k->data[0] == '/') {
		cls = proc_pid_class(k->data, &target);
		if (!cls) {
			k->prefixlen = (u32)(len - 1) * 8;
			u32 *v = bpf_map_lookup_elem(&path_classes, k);
			if (v)
				cls = *v;
		}
	}
	if (!cls)
		return 0;
	int writing = (flags & 3) != 0 || (flags & 0x200 /* O_TRUNC */);
	if ((cls & CLASS_WRITE_ONLY) && !writing)
		return 0;
	if ((cls & 0xff) == OPEN_CLASS_IGNORE)
		return 0;
	struct event *e = reserve(EV_OPEN, task);
	if (!e)
		return 0;
	e->args[0] = flags;
	e->args[1] = cls & 0xff;
	e->args[2] = target;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), k->data);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int tp_openat(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_open((const char *)ctx->args[1], ctx->args[2], task);
}

SEC("tracepoint/syscalls/sys_enter_open")
int tp_open(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_open((const char *)ctx->args[0], ctx->args[1], task);
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int tp_openat2(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[2]);
	return handle_open((const char *)ctx->args[1], flags, task);
}

/* ---- mounts ---- */

SEC("tracepoint/syscalls/sys_enter_mount")
int tp_mount(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	struct event *e = reserve(EV_MOUNT, task);
	if (!e)
		return 0;
	bpf_probe_read_user_str(e->path, sizeof(e->path), (void *)ctx->args[1]);
	bpf_probe_read_user_str(e->path2, sizeof(e->path2), (void *)ctx->args[0]);
	bpf_probe_read_user_str(e->path3, sizeof(e->path3), (void *)ctx->args[2]);
	e->args[0] = ctx->args[3];
	submit(e, task);
	return 0;
}

static __always_inline int new_mount_api(u32 which, u64 a0, u64 a2, const char *upath)
{
	ENTER_PROLOGUE();
	struct event *e = reserve(EV_NEWMOUNT, task);
	if (!e)
		return 0;
	e->args[0] = which;
	e->args[1] = a0;
	e->args[2] = a2;
	if (upath)
		bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fsopen")
int tp_fsopen(struct trace_event_raw_sys_enter *ctx)
{
	return new_mount_api(1, A(0), A(1), (const char *)A(0));
}

SEC("tracepoint/syscalls/sys_enter_open_tree")
int tp_open_tree(struct trace_event_raw_sys_enter *ctx)
{
	return new_mount_api(2, A(0), A(2), (const char *)A(1));
}

SEC("tracepoint/syscalls/sys_enter_fspick")
int tp_fspick(struct trace_event_raw_sys_enter *ctx)
{
	return new_mount_api(3, A(0), A(2), (const char *)A(1));
}

/* ---- devices ---- */

static __always_inline int handle_mknod(const char *upath, u64 mode, u64 dev,
					struct task_struct *task)
{
	u32 fmt = mode & 0170000;
	if (fmt != 0060000 && fmt != 0020000) /* S_IFBLK, S_IFCHR */
		return 0;
	struct event *e = reserve(EV_MKNOD, task);
	if (!e)
		return 0;
	e->args[0] = mode;
	e->args[1] = dev;
	bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_mknod")
int tp_mknod(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_mknod((const char *)ctx->args[0], ctx->args[1], ctx->args[2], task);
}

SEC("tracepoint/syscalls/sys_enter_mknodat")
int tp_mknodat(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_mknod((const char *)ctx->args[1], ctx->args[2], ctx->args[3], task);
}

/* ---- namespaces ---- */

SEC("tracepoint/syscalls/sys_enter_setns")
int tp_setns(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_SETNS, A(0), A(1), 0, 0, task);
}

#define CLONE_NEWUSER 0x10000000ULL

SEC("tracepoint/syscalls/sys_enter_unshare")
int tp_unshare(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	u64 flags = A(0);
	if (!(flags & CLONE_NEWUSER))
		return 0;
	return emit_args(EV_USERNS, flags, 0, 0, 0, task);
}

SEC("tracepoint/syscalls/sys_enter_clone")
int tp_clone(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	u64 flags = A(0);
	if (!(flags & CLONE_NEWUSER))
		return 0;
	return emit_args(EV_USERNS, flags, 0, 0, 0, task);
}

SEC("tracepoint/syscalls/sys_enter_clone3")
int tp_clone3(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	u64 flags = 0;
	bpf_probe_read_user(&flags, sizeof(flags), (void *)ctx->args[0]);
	if (!(flags & CLONE_NEWUSER))
		return 0;
	struct event *e = reserve(EV_USERNS, task);
	if (!e)
		return 0;
	e->args[0] = flags;
	submit(e, task);
	return 0;
}

/* ---- other processes ---- */

SEC("tracepoint/syscalls/sys_enter_ptrace")
int tp_ptrace(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	long req = A(0);
	/* PEEK* 1-3 are reads; POKETEXT 4, POKEDATA 5, POKEUSER 6, ATTACH 16, SEIZE 0x4206 */
	if (!(req == 4 || req == 5 || req == 6 || req == 16 || req == 0x4206))
		return 0;
	return emit_args(EV_PTRACE, A(0), A(1), A(2), A(3), task);
}

SEC("tracepoint/syscalls/sys_enter_process_vm_writev")
int tp_pvm_writev(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_PVM_WRITEV, A(0), A(1), A(2), A(3), task);
}

/* ---- kernel attack surface ---- */

SEC("tracepoint/syscalls/sys_enter_init_module")
int tp_init_module(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_MODULE, A(0), A(1), A(2), 0, task);
}

SEC("tracepoint/syscalls/sys_enter_finit_module")
int tp_finit_module(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_MODULE, A(0), A(1), A(2), 0, task);
}

SEC("tracepoint/syscalls/sys_enter_socket")
int tp_socket(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	long fam = A(0);
	/* common families never autoload a module: UNIX, INET, INET6, NETLINK, PACKET */
	if (fam == 1 || fam == 2 || fam == 10 || fam == 16 || fam == 17)
		return 0;
	return emit_args(EV_SOCKET, A(0), A(1), A(2), 0, task);
}

SEC("tracepoint/syscalls/sys_enter_bpf")
int tp_bpf(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_BPF, A(0), A(1), A(2), 0, task);
}

SEC("tracepoint/syscalls/sys_enter_perf_event_open")
int tp_perf(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_PERF, A(0), A(1), A(2), A(3), task);
}

SEC("tracepoint/syscalls/sys_enter_open_by_handle_at")
int tp_obha(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_OPEN_BY_HANDLE, A(0), A(1), A(2), 0, task);
}

SEC("tracepoint/syscalls/sys_enter_userfaultfd")
int tp_uffd(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_USERFAULTFD, A(0), 0, 0, 0, task);
}

SEC("tracepoint/syscalls/sys_enter_io_uring_setup")
int tp_io_uring(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return emit_args(EV_IO_URING, A(0), A(1), 0, 0, task);
}

/* ---- files ---- */

SEC("tracepoint/syscalls/sys_enter_connect")
int tp_connect(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	struct {
		u16 family;
		char path[108];
	} sa = {};
	if (bpf_probe_read_user(&sa, sizeof(sa), (void *)ctx->args[1]) < 0) {
		/* short sockaddr: read the family alone */
		bpf_probe_read_user(&sa.family, 2, (void *)ctx->args[1]);
	}
	if (sa.family != 1 || sa.path[0] == 0)
		return 0;
	/* engine sockets end in ".sock" (docker, containerd, crio, podman) */
	int n = 0;
	for (int i = 0; i < 107; i++) {
		if (sa.path[i] == 0)
			break;
		n = i + 1;
	}
	if (n < 5)
		return 0;
	if (!(sa.path[(n - 5) & 127] == '.' && sa.path[(n - 4) & 127] == 's' &&
	      sa.path[(n - 3) & 127] == 'o' && sa.path[(n - 2) & 127] == 'c' &&
	      sa.path[(n - 1) & 127] == 'k'))
		return 0;
	struct event *e = reserve(EV_CONNECT, task);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(sa.path), sa.path);
	submit(e, task);
	return 0;
}

static __always_inline int handle_link(const char *oldp, const char *newp, u64 sym,
				       struct task_struct *task)
{
	struct event *e = reserve(EV_LINK, task);
	if (!e)
		return 0;
	e->args[0] = sym;
	bpf_probe_read_user_str(e->path, sizeof(e->path), oldp);
	bpf_probe_read_user_str(e->path2, sizeof(e->path2), newp);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_symlink")
int tp_symlink(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_link((void *)ctx->args[0], (void *)ctx->args[1], 1, task);
}

SEC("tracepoint/syscalls/sys_enter_symlinkat")
int tp_symlinkat(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_link((void *)ctx->args[0], (void *)ctx->args[2], 1, task);
}

SEC("tracepoint/syscalls/sys_enter_link")
int tp_link(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_link((void *)ctx->args[0], (void *)ctx->args[1], 0, task);
}

SEC("tracepoint/syscalls/sys_enter_linkat")
int tp_linkat(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_link((void *)ctx->args[1], (void *)ctx->args[3], 0, task);
}

static __always_inline int handle_chmod(const char *upath, u64 mode, u64 fd,
					struct task_struct *task)
{
	if (!(mode & 06000))
		return 0;
	struct event *e = reserve(EV_CHMOD, task);
	if (!e)
		return 0;
	e->args[0] = mode;
	e->args[1] = fd;
	if (upath)
		bpf_probe_read_user_str(e->path, sizeof(e->path), upath);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_chmod")
int tp_chmod(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_chmod((void *)ctx->args[0], ctx->args[1], -100, task);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat")
int tp_fchmodat(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_chmod((void *)ctx->args[1], ctx->args[2], ctx->args[0], task);
}

SEC("tracepoint/syscalls/sys_enter_fchmodat2")
int tp_fchmodat2(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_chmod((void *)ctx->args[1], ctx->args[2], ctx->args[0], task);
}

SEC("tracepoint/syscalls/sys_enter_fchmod")
int tp_fchmod(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_chmod(NULL, ctx->args[1], ctx->args[0], task);
}

/* ---- credentials ---- */

static __always_inline int handle_setuid(u64 uid_a, u64 uid_b, u64 uid_c, u32 which,
					 struct task_struct *task)
{
	/* only a non-root task asking for uid 0 */
	u32 euid = BPF_CORE_READ(task, cred, euid.val);
	if (euid == 0)
		return 0;
	if ((u32)uid_a != 0 && (u32)uid_b != 0 && (u32)uid_c != 0)
		return 0;
	struct event *e = reserve(EV_SETUID, task);
	if (!e)
		return 0;
	e->args[0] = which;
	e->args[1] = uid_a;
	e->args[2] = uid_b;
	e->args[3] = uid_c;
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_setuid")
int tp_setuid(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_setuid(ctx->args[0], 1, 1, 1, task);
}

SEC("tracepoint/syscalls/sys_enter_setreuid")
int tp_setreuid(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_setuid(ctx->args[0], ctx->args[1], 1, 2, task);
}

SEC("tracepoint/syscalls/sys_enter_setresuid")
int tp_setresuid(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	return handle_setuid(ctx->args[0], ctx->args[1], ctx->args[2], 3, task);
}

/* ---- working directory outside the container's mount namespace (CVE-2024-21626) ---- */

static __always_inline int cwd_outside(struct task_struct *task)
{
	struct vfsmount *vm = BPF_CORE_READ(task, fs, pwd.mnt);
	if (!vm)
		return 0;
	struct mount *m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	struct mnt_namespace *cwd_ns = BPF_CORE_READ(m, mnt_ns);
	struct mnt_namespace *own = BPF_CORE_READ(task, nsproxy, mnt_ns);
	return cwd_ns && own && cwd_ns != own;
}

/* A file descriptor's mount is in another mount namespace than the task's: a directory fd
 * leaked from outside (runc's CVE-2024-21626). Checked at sys_enter of chdir/fchdir: sys_exit
 * tracepoints put every syscall's exit on the slow path and cost more than they tell here. */
static __always_inline int fd_outside(struct task_struct *task, u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return 0;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffff]);
	if (!f)
		return 0;
	struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
	if (!vm)
		return 0;
	struct mount *m = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	struct mnt_namespace *ns = BPF_CORE_READ(m, mnt_ns);
	struct mnt_namespace *own = BPF_CORE_READ(task, nsproxy, mnt_ns);
	return ns && own && ns != own;
}

static __always_inline int emit_cwd(struct task_struct *task, u64 fd, const char *kpath)
{
	struct event *e = reserve(EV_CWD_OUTSIDE, task);
	if (!e)
		return 0;
	e->args[0] = fd;
	if (kpath)
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), kpath);
	submit(e, task);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_fchdir")
int tp_fchdir(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	u32 fd = A(0);
	if (!fd_outside(task, fd))
		return 0;
	return emit_cwd(task, fd, NULL);
}

/* chdir("/proc/self/fd/N") or ("/proc/thread-self/fd/N"): resolve N */
SEC("tracepoint/syscalls/sys_enter_chdir")
int tp_chdir(struct trace_event_raw_sys_enter *ctx)
{
	ENTER_PROLOGUE();
	char b[48] = {};
	if (bpf_probe_read_user_str(b, sizeof(b), (const char *)A(0)) < 16)
		return 0;
	int i;
	if (b[0] == '/' && b[1] == 'p' && b[2] == 'r' && b[3] == 'o' && b[4] == 'c' && b[5] == '/' &&
	    b[6] == 's' && b[7] == 'e' && b[8] == 'l' && b[9] == 'f' && b[10] == '/')
		i = 11;
	else if (b[0] == '/' && b[1] == 'p' && b[2] == 'r' && b[3] == 'o' && b[4] == 'c' &&
		 b[5] == '/' && b[6] == 't' && b[7] == 'h' && b[8] == 'r' && b[12] == '-' &&
		 b[16] == 'f' && b[17] == '/')
		i = 18;
	else
		return 0;
	if (!(b[i] == 'f' && b[i + 1] == 'd' && b[i + 2] == '/'))
		return 0;
	u32 fd = 0;
	int j = i + 3, digits = 0;
	for (int k = 0; k < 6; k++) {
		char c = b[(j + k) & 47];
		if (c < '0' || c > '9')
			break;
		fd = fd * 10 + (c - '0');
		digits++;
	}
	if (!digits || !fd_outside(task, fd))
		return 0;
	return emit_cwd(task, fd, b);
}

/* ---- exec: lineage, drift, fileless, /tmp, setuid-root, container start ---- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	if (!in_container(task))
		return 0;
	stat_inc(2);
	struct event *e = reserve(EV_EXEC, task);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(bprm, filename));
	struct file *f = BPF_CORE_READ(bprm, file);
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
	bpf_probe_read_kernel_str(e->path2, sizeof(e->path2), BPF_CORE_READ(d, d_name.name));
	e->args[0] = BPF_CORE_READ(ino, __i_nlink);
	if (bpf_core_field_exists(ino->i_ctime_sec)) {
		e->args[1] = BPF_CORE_READ(ino, i_ctime_sec);
		e->args[2] = BPF_CORE_READ(ino, i_ctime_nsec);
	}
	e->args[3] = cwd_outside(task);
	e->args[4] = BPF_CORE_READ(ino, i_mode);
	e->args[5] = BPF_CORE_READ(ino, i_sb, s_magic);
	submit(e, task);
	return 0;
}
