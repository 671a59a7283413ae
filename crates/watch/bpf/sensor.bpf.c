// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
//
// Stockade watch sensor: one program on the raw `sys_enter` tracepoint (a dispatcher on the
// syscall number) and the BTF exec tracepoint, for container-escape behaviour. Only tp_btf and
// ring-buffer features are used, so it loads on kernels that refuse BPF trampolines
// (fentry/LSM).
//
// Filtering happens here, before anything is reserved in the ring buffer: first the syscall
// number against a bitmap, then whether the task is a candidate: its mount or pid namespace
// differs from the host's (the inode numbers user space passes in through rodata). On hybrid
// cgroup hosts containers made by runc/podman with cgroupfs sit in the cgroup2 root, so the
// cgroup2 id cannot tell them from the host; namespaces can. User space attributes each event
// to a container from the cgroup names carried in the event and drops the few host processes
// that run in a private namespace.

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include <asm/unistd_64.h>

#include "sensor.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile u32 host_mntns = 0;
const volatile u32 host_pidns = 0;
/* The host's network namespace and the initial user namespace (inode numbers), for the effects
 * (ctr_tasks below). */
const volatile u32 host_netns = 0;
const volatile u32 init_userns = 0;
const volatile u32 self_tgid = 0;
/* Bit c set: some absolute path class (path_classes) has c as its second byte, i.e. a path
 * "/c..." may match one; filled by user space from the same table. */
const volatile u64 class_c1[4] = {};
/* Wake the reader only when this many bytes are pending; it also polls on a timer. */
const volatile u64 wakeup_bytes = 256 * 1024;
/* Bit n set: send SIGKILL to the container task that triggers event kind n (reactive tier). */
volatile u64 kill_mask = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} events SEC(".maps");

/* Per-CPU counters (src/sensor.rs reads them; keep the two lists in step):
 * 0 STAT_DROPS ring-buffer reserve failures (an event lost: buffer full),
 * 1 STAT_EMITTED events submitted, 2 STAT_SEEN container syscalls examined, 3 STAT_KILLS,
 * 4 STAT_PENDING ring-buffer bytes pending at the last submit on this CPU,
 * 5 STAT_MERGED lean-tier events merged into the thread's previous identical one (a second
 *   capability or device check of the same call; a distinct call merged here would be a lost
 *   event, so it is counted, never silent),
 * 6 STAT_MAP_ERRORS failed map updates/lookups on an event's path (the de-dup memory: the next
 *   identical call is then reported again, not lost; a scratch lookup: the call is not examined),
 * 7 STAT_UNREAD open paths that could not be read from user memory (page not resident: the
 *   call could not be classified). The kernel's own count of program runs it skipped
 *   (recursion_misses in bpf_prog_info) is read per program by user space. */
#define STAT_DROPS 0
#define STAT_EMITTED 1
#define STAT_SEEN 2
#define STAT_KILLS 3
#define STAT_PENDING 4
#define STAT_MERGED 5
#define STAT_MAP_ERRORS 6
#define STAT_UNREAD 7
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
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

/* Thread groups of a container runtime's set-up lineage, whose mounts, namespace calls and
 * device nodes are the container being built, not a workload: they are exempt from the reactive
 * kill, and their events carry EVF_SETUP (user space drops them). Membership is decided by what
 * a task executed, never by its name alone, which a workload can set (prctl PR_SET_NAME) or
 * choose (a file named crun):
 * - an exec outside every container (host mount and pid namespace) of a runtime binary (runc,
 *   crun, youki, conmon, stockade, by the name the exec gives the task) adds the task; any other
 *   exec there keeps what the task was (runc re-executes from a memfd copy, stockade from a
 *   read-only view of its binary);
 * - fork copies membership to the child (sched_process_fork);
 * - any exec inside a container removes it for good: from then on the task runs the
 *   container's code, and so does every process it forks;
 * - exit removes the entry.
 * A full map, or a runtime started before the sensor, only leaves a runtime process out
 * (reported like a workload): it never lets a workload in. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, u8);
} setup_tasks SEC(".maps");

/* So that libbpf-cargo generates Rust mirrors of these types. */
struct event _event_for_codegen = {};

static __always_inline void stat_inc(u32 idx)
{
	u64 *v = bpf_map_lookup_elem(&stats, &idx);
	if (v)
		(*v)++;
}

static __always_inline int in_setup(u32 tgid)
{
	return bpf_map_lookup_elem(&setup_tasks, &tgid) != NULL;
}

/* After the syscall-number test, the hot path of every watched syscall: direct BTF loads from
 * the current task (no helper call per pointer hop), then an early return for host tasks. */
static __always_inline int in_container(struct task_struct *t)
{
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

/* The capability set `field` of the kernel cred pointer `c`, as one u64. kernel_cap_t is
 * `u64 val` since Linux 6.3 and `__u32 cap[2]` before (Debian 12's 6.1): the same eight bytes,
 * low word first. The whole struct is read (its offset relocated, a struct for a struct), not
 * its member, so the one read loads on both. */
#define CRED_CAPS(c, field)                                                                      \
	({                                                                                       \
		u64 __caps = 0;                                                                  \
		bpf_core_read(&__caps, sizeof(__caps), &(c)->field);                             \
		__caps;                                                                          \
	})

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

/* A zeroed event of `kind` from the ring buffer, stamped with the time; NULL (counted as a
 * drop) when the buffer is full. */
static __always_inline struct event *reserve_blank(u32 kind)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		stat_inc(STAT_DROPS);
		return NULL;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ts_ns = bpf_ktime_get_boot_ns();
	return e;
}

/* What an event says about its task, read from `task` (e->tgid set first): parent,
 * namespaces, credentials, setup flag, parent's name and cgroup names. */
static __always_inline void task_fields(struct event *e, struct task_struct *task)
{
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	u32 level = BPF_CORE_READ(task, thread_pid, level);
	e->vpid = BPF_CORE_READ(task, thread_pid, numbers[level & 7].nr);
	e->pidns = BPF_CORE_READ(task, thread_pid, numbers[level & 7].ns, ns.inum);
	e->mntns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	e->euid = BPF_CORE_READ(task, cred, euid.val);
	const struct cred *cred = BPF_CORE_READ(task, cred);
	e->cap_eff = CRED_CAPS(cred, cap_effective);
	if (in_setup(e->tgid))
		e->flags |= EVF_SETUP;
	BPF_CORE_READ_STR_INTO(&e->pcomm, task, real_parent, comm);
	cg_names(e, task);
}

static __always_inline struct event *reserve(u32 kind, struct task_struct *task)
{
	struct event *e = reserve_blank(kind);
	if (!e)
		return NULL;
	u64 pt = bpf_get_current_pid_tgid();
	e->cgroup_id = bpf_get_current_cgroup_id();
	e->tid = (u32)pt;
	e->tgid = pt >> 32;
	task_fields(e, task);
	/* start of the container's init, when the pid-namespace reaper shares the task's mount
	 * namespace (not so in a container that shares the host pid namespace: 0 then) */
	struct task_struct *reaper = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, child_reaper);
	if (BPF_CORE_READ(reaper, nsproxy, mnt_ns, ns.inum) == e->mntns)
		e->reaper_start_ns = BPF_CORE_READ(reaper, start_boottime);
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return e;
}

/* The name an exec gives a runtime's task (the basename of the file, 15 bytes at most): runc
 * (and runc.amd64, ...), crun, youki, conmon, stockade. Only ever asked for an exec on the host
 * (see setup_tasks). */
static __always_inline int runtime_binary(const char *c)
{
	if (c[0] == 'r' && c[1] == 'u' && c[2] == 'n' && c[3] == 'c')
		return 1;
	if (c[0] == 'c' && c[1] == 'r' && c[2] == 'u' && c[3] == 'n' && c[4] == 0)
		return 1;
	if (c[0] == 'y' && c[1] == 'o' && c[2] == 'u' && c[3] == 'k' && c[4] == 'i' && c[5] == 0)
		return 1;
	if (c[0] == 'c' && c[1] == 'o' && c[2] == 'n' && c[3] == 'm' && c[4] == 'o' && c[5] == 'n')
		return 1;
	if (c[0] == 's' && c[1] == 't' && c[2] == 'o' && c[3] == 'c' && c[4] == 'k' && c[5] == 'a' &&
	    c[6] == 'd' && c[7] == 'e')
		return 1;
	return 0;
}

/* At each exec (tp_exec, before anything else): see setup_tasks. */
static __always_inline void setup_on_exec(struct task_struct *t)
{
	u32 tgid = t->tgid;
	if (in_container(t) || t->tgid == self_tgid) {
		bpf_map_delete_elem(&setup_tasks, &tgid);
		return;
	}
	char comm[16];
	bpf_get_current_comm(comm, sizeof(comm));
	if (runtime_binary(comm)) {
		u8 one = 1;
		if (bpf_map_update_elem(&setup_tasks, &tgid, &one, BPF_ANY))
			stat_inc(STAT_MAP_ERRORS);
	}
}

static __always_inline void effects_fork(struct task_struct *parent, struct task_struct *child);
static __always_inline void effects_exit(struct task_struct *p);

SEC("tp_btf/sched_process_fork")
int BPF_PROG(setup_fork, struct task_struct *parent, struct task_struct *child)
{
	u32 ptgid = parent->tgid, ctgid = child->tgid;
	effects_fork(parent, child);
	if (ptgid == ctgid)
		return 0;
	if (!in_setup(ptgid)) {
		/* a new process is never in the lineage by an entry that outlived an earlier
		 * holder of its pid (an exit the sensor did not see) */
		bpf_map_delete_elem(&setup_tasks, &ctgid);
		return 0;
	}
	u8 one = 1;
	if (bpf_map_update_elem(&setup_tasks, &ctgid, &one, BPF_ANY))
		stat_inc(STAT_MAP_ERRORS);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(setup_exit, struct task_struct *p)
{
	effects_exit(p);
	if (p->pid != p->tgid)
		return 0;
	u32 tgid = p->tgid;
	bpf_map_delete_elem(&setup_tasks, &tgid);
	return 0;
}

/* ---- the lean tier's de-duplication (see cap_capable below) ---- */

#define DEDUP_NS 1000000ULL

struct last_call {
	u64 ts;
	u64 hash;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, u32);
	__type(value, struct last_call);
} lean_last SEC(".maps");

/* Slot 0 non-zero while cap_capable classifies: submit() then de-duplicates. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, u64);
} lean_armed SEC(".maps");

/* FNV-1a over what an event says: kind, arguments and the first bytes of its paths. */
static __always_inline u64 event_hash(struct event *e)
{
	u64 h = 0xcbf29ce484222325ULL;
	h = (h ^ e->kind) * 0x100000001b3ULL;
	for (int i = 0; i < 4; i++)
		h = (h ^ e->args[i]) * 0x100000001b3ULL;
	u64 *p = (u64 *)e->path;
	for (int i = 0; i < PATH_LEN / 8; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	u64 *p2 = (u64 *)e->path2;
	for (int i = 0; i < 4; i++)
		h = (h ^ p2[i]) * 0x100000001b3ULL;
	return h;
}

/* In the lean tier: is this event the same as the thread's last one, less than DEDUP_NS ago
 * (another capability check of the same call)? Remembers it otherwise. */
static __always_inline int same_as_last(struct event *e)
{
	u64 h = event_hash(e);
	u64 now = bpf_ktime_get_ns();
	u32 tid = e->tid;
	struct last_call *l = bpf_map_lookup_elem(&lean_last, &tid);
	if (l && l->hash == h && now - l->ts < DEDUP_NS) {
		stat_inc(STAT_MERGED);
		return 1;
	}
	struct last_call n = { .ts = now, .hash = h };
	if (bpf_map_update_elem(&lean_last, &tid, &n, BPF_ANY))
		stat_inc(STAT_MAP_ERRORS);
	return 0;
}

static __always_inline int lean_duplicate(struct event *e)
{
	u32 zero = 0;
	u64 *armed = bpf_map_lookup_elem(&lean_armed, &zero);
	if (!armed || !*armed)
		return 0;
	return same_as_last(e);
}

static __always_inline void submit(struct event *e, struct task_struct *task)
{
	if (lean_duplicate(e)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return;
	}
	/* map keys from the stack: before 6.2 the verifier takes no ring-buffer memory as a key */
	u32 mntns = e->mntns;
	u64 cgroup_id = e->cgroup_id;
	if ((kill_mask & (1ULL << (e->kind & 63))) && !(e->flags & EVF_SETUP) &&
	    (bpf_map_lookup_elem(&enforced_mntns, &mntns) ||
	     bpf_map_lookup_elem(&enforced_cgroups, &cgroup_id))) {
		bpf_send_signal(9);
		e->verdict = VERDICT_KILLED;
		stat_inc(STAT_KILLS);
	}
	u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	u32 k = STAT_PENDING;
	u64 *pending = bpf_map_lookup_elem(&stats, &k);
	if (pending)
		*pending = avail;
	stat_inc(STAT_EMITTED);
	bpf_ringbuf_submit(e, avail >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP);
}

/* ---- the watched syscalls, and two ways to hook them ----
 *
 * "dispatcher": one program on the raw sys_enter tracepoint gets the registers and the syscall
 * number, so a watched syscall of a host task costs a bitmap test and a few loads, but every
 * syscall of every task runs a BPF program. "tracepoints": the per-syscall tracepoints
 * (syscalls:sys_enter_*) go through perf, which rejects unwatched syscalls in C but builds a
 * trace record for every call of a watched one, by every task, before the program can return.
 * User space loads one style (`--syscall-hooks`). x86-64 numbering; 32-bit (ia32) syscalls are
 * ignored, as the syscall tracepoints ignore them. */

#ifndef __NR_fchmodat2
#define __NR_fchmodat2 452
#endif

#define NR_WORDS 8 /* syscall numbers 0..511 */
#define IN(nr, w) ((((nr) >> 6) == (w)) ? (1ULL << ((nr) & 63)) : 0ULL)
#define WORD(w)                                                                              \
	(IN(__NR_open, w) | IN(__NR_openat, w) | IN(__NR_openat2, w) | IN(__NR_mount, w) |   \
	 IN(__NR_fsopen, w) | IN(__NR_open_tree, w) | IN(__NR_fspick, w) | IN(__NR_mknod, w) | \
	 IN(__NR_mknodat, w) | IN(__NR_setns, w) | IN(__NR_unshare, w) | IN(__NR_clone, w) |   \
	 IN(__NR_clone3, w) | IN(__NR_ptrace, w) | IN(__NR_process_vm_writev, w) |             \
	 IN(__NR_init_module, w) | IN(__NR_finit_module, w) | IN(__NR_socket, w) |             \
	 IN(__NR_bpf, w) | IN(__NR_perf_event_open, w) | IN(__NR_open_by_handle_at, w) |       \
	 IN(__NR_userfaultfd, w) | IN(__NR_io_uring_setup, w) | IN(__NR_connect, w) |          \
	 IN(__NR_symlink, w) | IN(__NR_symlinkat, w) | IN(__NR_link, w) | IN(__NR_linkat, w) | \
	 IN(__NR_chmod, w) | IN(__NR_fchmodat, w) | IN(__NR_fchmodat2, w) | IN(__NR_fchmod, w) | \
	 IN(__NR_setuid, w) | IN(__NR_setreuid, w) | IN(__NR_setresuid, w) |                   \
	 IN(__NR_fchdir, w) | IN(__NR_chdir, w) | IN(__NR_write, w) | IN(__NR_writev, w) |     \
	 IN(__NR_pwritev2, w) | IN(__NR_splice, w) | IN(__NR_tee, w) | IN(__NR_vmsplice, w) |  \
	 IN(__NR_sendfile, w))

/* Syscalls the dispatcher handles; everything else returns after this test. Read-only data,
 * not a map lookup: one load. */
static const u64 watched_syscalls[NR_WORDS] = {
	WORD(0), WORD(1), WORD(2), WORD(3), WORD(4), WORD(5), WORD(6), WORD(7),
};

#define TS_COMPAT 0x0002 /* x86 thread_info.status: in a 32-bit syscall */

/* Every event with only numbers and up to three user strings: one reserve for all of them. */
struct simple {
	u64 a[4];
	const char *p1; /* -> path (256) */
	const char *p2; /* -> path2 (128) */
	const char *p3; /* -> path3 (32) */
};

static __always_inline int emit_simple(u32 kind, struct simple *s, struct task_struct *task)
{
	struct event *e = reserve(kind, task);
	if (!e)
		return 0;
	e->args[0] = s->a[0];
	e->args[1] = s->a[1];
	e->args[2] = s->a[2];
	e->args[3] = s->a[3];
	if (s->p1)
		bpf_probe_read_user_str(e->path, sizeof(e->path), s->p1);
	if (s->p2)
		bpf_probe_read_user_str(e->path2, sizeof(e->path2), s->p2);
	if (s->p3)
		bpf_probe_read_user_str(e->path3, sizeof(e->path3), s->p3);
	submit(e, task);
	return 0;
}

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
	if (!k) {
		stat_inc(STAT_MAP_ERRORS);
		return 0;
	}
	int len = bpf_probe_read_user_str(k->data, sizeof(k->data), upath);
	if (len < 0 && upath)
		stat_inc(STAT_UNREAD);
	if (len <= 1)
		return 0;
	u32 cls = 0, target = 0;
	if (suffix_is(k->data, len, "release_agent", 13))
		cls = OPEN_CLASS_RELEASE_AGENT | CLASS_WRITE_ONLY;
	else if (suffix_is(k->data, len, "notify_on_release", 17))
		cls = OPEN_CLASS_NOTIFY_ON_RELEASE | CLASS_WRITE_ONLY;
	else if (k->data[0] == '/') {
		u8 c1 = k->data[1];
		/* the most common device opens, which no rule is about (and which the trie maps to
		 * OPEN_CLASS_IGNORE): no trie walk */
		const char *d = k->data;
		if (len == 10 && d[1] == 'd' && d[2] == 'e' && d[3] == 'v' && d[4] == '/' &&
		    d[5] == 'n' && d[6] == 'u' && d[7] == 'l' && d[8] == 'l')
			return 0;
		/* no class starts with "/<c1>": no trie walk */
		if (!((class_c1[(c1 >> 6) & 3] >> (c1 & 63)) & 1))
			return 0;
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

/* ---- connect to an engine socket ---- */

struct sun_addr {
	u16 family;
	char path[108];
};

static __always_inline int connect_check(struct sun_addr *sa, struct task_struct *task);

/* Node services (SKD-RUN-040): {IPv4 address as in the sockaddr (0: any), port} -> 1, filled by
 * user space from the rule's catalogue parameters. */
struct node_key {
	u32 addr;
	u32 port;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, struct node_key);
	__type(value, u8);
} node_services SEC(".maps");

/* An IPv4 connect to a node service: the address and port against node_services, exact first,
 * then any address. args: address (network order, as in the sockaddr), port, the task's
 * network namespace (user space keeps loopback connects only from the host's). */
static __always_inline int connect4_check(u32 addr, u16 port, struct task_struct *task)
{
	struct node_key k = { .addr = addr, .port = port };
	if (!bpf_map_lookup_elem(&node_services, &k)) {
		k.addr = 0;
		if (!bpf_map_lookup_elem(&node_services, &k))
			return 0;
	}
	struct event *e = reserve(EV_CONNECT4, task);
	if (!e)
		return 0;
	e->args[0] = addr;
	e->args[1] = port;
	e->args[2] = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	submit(e, task);
	return 0;
}

static __always_inline int handle_connect(const void *uaddr, struct task_struct *task)
{
	struct sun_addr sa = {};
	if (bpf_probe_read_user(&sa.family, 2, uaddr) < 0)
		return 0;
	if (sa.family == 2 /* AF_INET */) {
		struct {
			u16 family;
			u16 port; /* network order */
			u32 addr;
		} in = {};
		if (bpf_probe_read_user(&in, sizeof(in), uaddr) < 0)
			return 0;
		return connect4_check(in.addr, bpf_ntohs(in.port), task);
	}
	if (bpf_probe_read_user(&sa, sizeof(sa), uaddr) < 0) {
		/* short sockaddr: the family alone (read above) */
		__builtin_memset(sa.path, 0, sizeof(sa.path));
	}
	return connect_check(&sa, task);
}

/* AF_UNIX connect to a path ending in ".sock": an engine socket */
static __always_inline int connect_check(struct sun_addr *sa, struct task_struct *task)
{
	if (sa->family != 1 || sa->path[0] == 0)
		return 0;
	/* engine sockets end in ".sock" (docker, containerd, crio, podman) */
	int n = 0;
	for (int i = 0; i < 107; i++) {
		if (sa->path[i] == 0)
			break;
		n = i + 1;
	}
	if (n < 5)
		return 0;
	if (!(sa->path[(n - 5) & 127] == '.' && sa->path[(n - 4) & 127] == 's' &&
	      sa->path[(n - 3) & 127] == 'o' && sa->path[(n - 2) & 127] == 'c' &&
	      sa->path[(n - 1) & 127] == 'k'))
		return 0;
	struct event *e = reserve(EV_CONNECT, task);
	if (!e)
		return 0;
	bpf_probe_read_kernel_str(e->path, sizeof(sa->path), sa->path);
	submit(e, task);
	return 0;
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
 * leaked from outside (runc's CVE-2024-21626). Checked at sys_enter of chdir/fchdir: a sys_exit
 * hook would put every syscall's exit on the slow path and cost more than it tells here. */
static __always_inline struct file *fd_file(struct task_struct *task, u32 fd)
{
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd & 0xffff]);
	return f;
}

static __always_inline int fd_outside(struct task_struct *task, u32 fd)
{
	struct file *f = fd_file(task, fd);
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

/* chdir("/proc/self/fd/N") or ("/proc/thread-self/fd/N"): resolve N */
static __always_inline int handle_chdir(const char *upath, struct task_struct *task)
{
	char b[48] = {};
	if (bpf_probe_read_user_str(b, sizeof(b), upath) < 16)
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

/* ---- a write into a pipe whose newest buffer is a file's page cache (Dirty Pipe class) ----
 *
 * splice(2) from a file into a pipe puts a reference to the file's page-cache page in the pipe,
 * not a copy. A write(2) into the pipe then appends to the newest buffer when the buffer is
 * marked mergeable (PIPE_BUF_FLAG_CAN_MERGE): CVE-2022-0847 left that flag set on spliced
 * page-cache pages, so the write went into the page cache of a file the task could only read
 * (/etc/passwd, a setuid binary, runc's binary on the host through /proc/self/exe). Checked at
 * each write/writev/pwritev2 of a container task: the fd is a pipe (S_IFIFO), the pipe is not
 * empty, and its newest buffer's page belongs to a file mapping (page->mapping set, not anonymous).
 * args: fd, the buffer's flags (0x10 CAN_MERGE: this write goes into the page cache), the file's
 * inode number, its device, its mode and owner; path: the file's name. Reported whether or not
 * this kernel merges: the pattern has no other use worth the risk, and on a fixed kernel it is
 * still the attempt. */
#define PIPE_BUF_FLAG_CAN_MERGE 0x10

/* Set, for good, by the first splice, tee, vmsplice, sendfile or io_uring_setup of a container
 * task (the calls that put page references into a pipe, and io_uring, which can splice without
 * a syscall): until then no container write is looked at, so a workload that never splices pays
 * one load per write. Not seen: a pipe filled by a host process and handed to a container. */
volatile u32 page_refs_seen = 0;

static __always_inline int is_write(long id)
{
	return id == __NR_write || id == __NR_writev || id == __NR_pwritev2;
}

static __always_inline int handle_pipe_write(u32 fd, struct task_struct *task)
{
	struct file *f = fd_file(task, fd);
	if (!f)
		return 0;
	struct inode *ino = BPF_CORE_READ(f, f_inode);
	u16 mode = BPF_CORE_READ(ino, i_mode);
	if ((mode & 0170000) != 0010000 /* S_IFIFO */)
		return 0;
	struct pipe_inode_info *pipe = BPF_CORE_READ(f, private_data);
	if (!pipe)
		return 0;
	u32 head = BPF_CORE_READ(pipe, head), tail = BPF_CORE_READ(pipe, tail);
	u32 ring = BPF_CORE_READ(pipe, ring_size);
	if (head == tail || ring == 0)
		return 0;
	struct pipe_buffer *bufs = BPF_CORE_READ(pipe, bufs);
	u64 sz = bpf_core_type_size(struct pipe_buffer);
	struct pipe_buffer *buf = (void *)bufs + (u64)((head - 1) & (ring - 1)) * sz;
	struct page *page = BPF_CORE_READ(buf, page);
	if (!page)
		return 0;
	/* a tail page of a large folio: its head page holds the mapping */
	unsigned long ch = BPF_CORE_READ(page, compound_head);
	if (ch & 1)
		page = (struct page *)(ch - 1);
	unsigned long mapping = (unsigned long)BPF_CORE_READ(page, mapping);
	/* none: the pipe's own anonymous buffer; low bits: anonymous, KSM or movable */
	if (!mapping || (mapping & 3))
		return 0;
	struct inode *host = BPF_CORE_READ((struct address_space *)mapping, host);
	if (!host)
		return 0;
	struct event *e = reserve(EV_PIPE_PAGE_WRITE, task);
	if (!e)
		return 0;
	e->args[0] = fd;
	e->args[1] = BPF_CORE_READ(buf, flags);
	e->args[2] = BPF_CORE_READ(host, i_ino);
	e->args[3] = BPF_CORE_READ(host, i_sb, s_dev);
	e->args[4] = BPF_CORE_READ(host, i_mode);
	e->args[5] = BPF_CORE_READ(host, i_uid.val);
	/* the file's name: its first dentry alias */
	struct hlist_node *alias = BPF_CORE_READ(host, i_dentry.first);
	if (alias) {
		struct dentry *d =
			(void *)alias - bpf_core_field_offset(struct dentry, d_u.d_alias);
		bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(d, d_name.name));
	}
	submit(e, task);
	return 0;
}

#define CLONE_NEWUSER 0x10000000ULL
#define AT_FDCWD_ARG ((u64)-100)

/* The classification of one watched syscall of a container task, shared by both hook styles.
 * Only the arguments the syscall has are used (a0..a3, x86-64 order). */
static __always_inline int handle(long id, u64 a0, u64 a1, u64 a2, u64 a3,
				  struct task_struct *task)
{
	struct simple s = {};
	u32 kind;

	switch (id) {
	/* open family */
	case __NR_openat:
		return handle_open((const char *)a1, a2, task);
	case __NR_open:
		return handle_open((const char *)a0, a1, task);
	case __NR_openat2: {
		u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)a2); /* open_how.flags */
		return handle_open((const char *)a1, flags, task);
	}
	/* mounts */
	case __NR_mount:
		kind = EV_MOUNT;
		s.p1 = (void *)a1; /* target */
		s.p2 = (void *)a0; /* source */
		s.p3 = (void *)a2; /* fs type */
		s.a[0] = a3;
		break;
	case __NR_fsopen:
		kind = EV_NEWMOUNT;
		s.a[0] = 1;
		s.a[1] = a0;
		s.a[2] = a1;
		s.p1 = (void *)a0;
		break;
	case __NR_open_tree:
	case __NR_fspick:
		kind = EV_NEWMOUNT;
		s.a[0] = id == __NR_open_tree ? 2 : 3;
		s.a[1] = a0;
		s.a[2] = a2;
		s.p1 = (void *)a1;
		break;
	/* devices */
	case __NR_mknod:
	case __NR_mknodat: {
		u64 mode = id == __NR_mknod ? a1 : a2;
		u32 fmt = mode & 0170000;
		if (fmt != 0060000 && fmt != 0020000) /* S_IFBLK, S_IFCHR */
			return 0;
		kind = EV_MKNOD;
		s.a[0] = mode;
		s.a[1] = id == __NR_mknod ? a2 : a3;
		s.p1 = (void *)(id == __NR_mknod ? a0 : a1);
		break;
	}
	/* namespaces */
	case __NR_setns:
		kind = EV_SETNS;
		s.a[0] = a0;
		s.a[1] = a1;
		break;
	case __NR_unshare:
	case __NR_clone:
		if (!(a0 & CLONE_NEWUSER))
			return 0;
		kind = EV_USERNS;
		/* without clone's exit signal (CSIGNAL), as clone3 and task_newtask report flags */
		s.a[0] = a0 & ~0xffULL;
		break;
	case __NR_clone3: {
		u64 flags = 0;
		bpf_probe_read_user(&flags, sizeof(flags), (void *)a0); /* clone_args.flags */
		if (!(flags & CLONE_NEWUSER))
			return 0;
		kind = EV_USERNS;
		s.a[0] = flags;
		break;
	}
	/* other processes */
	case __NR_ptrace: {
		long req = a0;
		/* PEEK* 1-3 are reads; POKETEXT 4, POKEDATA 5, POKEUSER 6, ATTACH 16, SEIZE 0x4206 */
		if (!(req == 4 || req == 5 || req == 6 || req == 16 || req == 0x4206))
			return 0;
		kind = EV_PTRACE;
		goto four_args;
	}
	case __NR_process_vm_writev:
		kind = EV_PVM_WRITEV;
		goto four_args;
	/* kernel attack surface */
	case __NR_init_module:
	case __NR_finit_module:
		kind = EV_MODULE;
		goto three_args;
	case __NR_socket: {
		long fam = a0;
		/* common families never autoload a module: UNIX, INET, INET6, NETLINK, PACKET */
		if (fam == 1 || fam == 2 || fam == 10 || fam == 16 || fam == 17)
			return 0;
		kind = EV_SOCKET;
		goto three_args;
	}
	case __NR_bpf:
		kind = EV_BPF;
		goto three_args;
	case __NR_perf_event_open:
		kind = EV_PERF;
		goto four_args;
	case __NR_open_by_handle_at:
		kind = EV_OPEN_BY_HANDLE;
		goto three_args;
	case __NR_userfaultfd:
		kind = EV_USERFAULTFD;
		s.a[0] = a0;
		break;
	case __NR_io_uring_setup:
		if (!page_refs_seen)
			page_refs_seen = 1;
		kind = EV_IO_URING;
		s.a[0] = a0;
		s.a[1] = a1;
		break;
	/* files */
	case __NR_connect:
		return handle_connect((const void *)a1, task);
	case __NR_symlink:
	case __NR_link:
		kind = EV_LINK;
		s.a[0] = id == __NR_symlink;
		s.p1 = (void *)a0;
		s.p2 = (void *)a1;
		break;
	case __NR_symlinkat:
		kind = EV_LINK;
		s.a[0] = 1;
		s.p1 = (void *)a0;
		s.p2 = (void *)a2;
		break;
	case __NR_linkat:
		kind = EV_LINK;
		s.p1 = (void *)a1;
		s.p2 = (void *)a3;
		break;
	case __NR_chmod:
	case __NR_fchmod:
	case __NR_fchmodat:
	case __NR_fchmodat2: {
		u64 mode = (id == __NR_fchmodat || id == __NR_fchmodat2) ? a2 : a1;
		if (!(mode & 06000))
			return 0;
		kind = EV_CHMOD;
		s.a[0] = mode;
		if (id == __NR_chmod) {
			s.a[1] = AT_FDCWD_ARG;
			s.p1 = (void *)a0;
		} else if (id == __NR_fchmod) {
			s.a[1] = a0;
		} else {
			s.a[1] = a0;
			s.p1 = (void *)a1;
		}
		break;
	}
	/* credentials: only a non-root task asking for uid 0 */
	case __NR_setuid:
	case __NR_setreuid:
	case __NR_setresuid: {
		u64 ua = a0, ub = 1, uc = 1;
		if (id != __NR_setuid)
			ub = a1;
		if (id == __NR_setresuid)
			uc = a2;
		if (BPF_CORE_READ(task, cred, euid.val) == 0)
			return 0;
		if ((u32)ua != 0 && (u32)ub != 0 && (u32)uc != 0)
			return 0;
		kind = EV_SETUID;
		s.a[0] = id == __NR_setuid ? 1 : id == __NR_setreuid ? 2 : 3;
		s.a[1] = ua;
		s.a[2] = ub;
		s.a[3] = uc;
		break;
	}
	/* working directory */
	case __NR_fchdir:
		if (!fd_outside(task, (u32)a0))
			return 0;
		return emit_cwd(task, (u32)a0, NULL);
	case __NR_chdir:
		return handle_chdir((const char *)a0, task);
	/* writes: only into a pipe holding a file's page (Dirty Pipe class) */
	case __NR_write:
	case __NR_writev:
	case __NR_pwritev2:
		if (!page_refs_seen)
			return 0;
		return handle_pipe_write((u32)a0, task);
	case __NR_splice:
	case __NR_tee:
	case __NR_vmsplice:
	case __NR_sendfile:
		if (!page_refs_seen)
			page_refs_seen = 1;
		return 0;
	default:
		return 0;
	}
	return emit_simple(kind, &s, task);
four_args:
	s.a[3] = a3;
three_args:
	s.a[0] = a0;
	s.a[1] = a1;
	s.a[2] = a2;
	return emit_simple(kind, &s, task);
}

/* Is syscall `id` one the sensor watches (the bitmap in .rodata)? */
static __always_inline bool syscall_watched(long id)
{
	if ((unsigned long)id >= NR_WORDS * 64)
		return false;
	return (watched_syscalls[((u32)id >> 6) & (NR_WORDS - 1)] >> (id & 63)) & 1;
}

/* Hook style "dispatcher" (the default): one program on the raw sys_enter tracepoint. */
SEC("tp_btf/sys_enter")
int BPF_PROG(sys_enter, struct pt_regs *regs, long id)
{
	/* 1. is this syscall watched at all (the cost every syscall of every task pays) */
	if (!syscall_watched(id))
		return 0;
	/* writes: nothing to look at before any container task spliced (page_refs_seen) */
	if (is_write(id) && !page_refs_seen)
		return 0;
	/* 2. is the caller a container task (a few direct loads from the task) */
	struct task_struct *t = bpf_get_current_task_btf();
	if (bpf_core_field_exists(t->thread_info.status) && (t->thread_info.status & TS_COMPAT))
		return 0;
	if (!in_container(t))
		return 0;
	stat_inc(STAT_SEEN);
	/* 3. the syscall's own logic, with the x86-64 argument registers */
	return handle(id, regs->di, regs->si, regs->dx, regs->r10,
		      (struct task_struct *)bpf_get_current_task());
}

/* Hook style "tracepoints": one perf-based syscall tracepoint per watched syscall. The kernel
 * rejects unwatched syscalls before any BPF runs (cheaper for them than the dispatcher), but
 * builds a perf record for each watched one (dearer for those); docs/benchmarks.md has the
 * numbers. Syscall tracepoint records hold only the syscall's own arguments, and the kernel
 * refuses to attach a program that reads past them (EACCES): NARGS bounds the reads. */
#define PER_SYSCALL(name, NARGS)                                                          \
	SEC("tracepoint/syscalls/sys_enter_" #name)                                        \
	int tp_##name(struct trace_event_raw_sys_enter *ctx)                               \
	{                                                                                  \
		if (is_write(__NR_##name) && !page_refs_seen)                              \
			return 0;                                                          \
		if (!in_container(bpf_get_current_task_btf()))                             \
			return 0;                                                          \
		stat_inc(STAT_SEEN);                                                       \
		return handle(__NR_##name, ctx->args[0], NARGS > 1 ? ctx->args[1] : 0,     \
			      NARGS > 2 ? ctx->args[2] : 0, NARGS > 3 ? ctx->args[3] : 0,  \
			      (struct task_struct *)bpf_get_current_task());               \
	}

PER_SYSCALL(open, 3)
PER_SYSCALL(openat, 4)
PER_SYSCALL(openat2, 4)
PER_SYSCALL(mount, 5)
PER_SYSCALL(fsopen, 2)
PER_SYSCALL(open_tree, 3)
PER_SYSCALL(fspick, 3)
PER_SYSCALL(mknod, 3)
PER_SYSCALL(mknodat, 4)
PER_SYSCALL(setns, 2)
PER_SYSCALL(unshare, 1)
PER_SYSCALL(clone, 5)
PER_SYSCALL(clone3, 2)
PER_SYSCALL(ptrace, 4)
PER_SYSCALL(process_vm_writev, 6)
PER_SYSCALL(init_module, 3)
PER_SYSCALL(finit_module, 3)
PER_SYSCALL(socket, 3)
PER_SYSCALL(bpf, 3)
PER_SYSCALL(perf_event_open, 5)
PER_SYSCALL(open_by_handle_at, 3)
PER_SYSCALL(userfaultfd, 1)
PER_SYSCALL(io_uring_setup, 2)
PER_SYSCALL(connect, 3)
PER_SYSCALL(symlink, 2)
PER_SYSCALL(symlinkat, 3)
PER_SYSCALL(link, 2)
PER_SYSCALL(linkat, 5)
PER_SYSCALL(chmod, 2)
PER_SYSCALL(fchmodat, 3)
PER_SYSCALL(fchmodat2, 4)
PER_SYSCALL(fchmod, 2)
PER_SYSCALL(setuid, 1)
PER_SYSCALL(setreuid, 2)
PER_SYSCALL(setresuid, 3)
PER_SYSCALL(fchdir, 1)
PER_SYSCALL(chdir, 1)
PER_SYSCALL(write, 3)
PER_SYSCALL(writev, 3)
PER_SYSCALL(pwritev2, 6)
PER_SYSCALL(splice, 6)
PER_SYSCALL(tee, 4)
PER_SYSCALL(vmsplice, 4)

/* sendfile's tracepoint is named after its 64-bit entry point */
SEC("tracepoint/syscalls/sys_enter_sendfile64")
int tp_sendfile(struct trace_event_raw_sys_enter *ctx)
{
	if (!in_container(bpf_get_current_task_btf()))
		return 0;
	stat_inc(STAT_SEEN);
	return handle(__NR_sendfile, ctx->args[0], ctx->args[1], ctx->args[2], ctx->args[3],
		      (struct task_struct *)bpf_get_current_task());
}

/* ---- effects: what a container task has become, whatever call made it so ----
 *
 * A kernel exploit shows no cause the syscall hooks know (no mount, no setns, no setuid): its
 * payload calls commit_creds(prepare_kernel_cred(0)) or overwrites the task's cred, and
 * switch_task_namespaces(current, &init_nsproxy), then returns to user space. What can be seen is
 * the effect. Every task seen as a container task (in_container at an exec, or forked by one)
 * gets a baseline here: its mount, network and user namespaces and the union of its bounding,
 * permitted and effective capability sets. At each exec, fork and exit of such a task the
 * current state is compared with the baseline:
 * - EV_NS_HOST: its mount or network namespace is now the host's and was not (nsenter into pid
 *   1's namespaces from a container sharing the host pid namespace, or the exploit's switch);
 * - EV_CRED_ROOT: its user namespace is now the initial one and was not, holding uid 0 or a
 *   capability (no call can move a task into an ancestor user namespace), or, in the same user
 *   namespace, it holds a capability outside its former bounding set (exec, capset and set*id
 *   never grow these sets; a setuid-root exec stays inside them).
 * The baseline then becomes the current state, so one change is one event. Between these points
 * a task iterator (effects_sweep), which user space runs every second, compares every task that
 * has a baseline. The table is an LRU: a full table forgets the oldest task, which is
 * then not checked (it can never report a false change). */
#define EFF_MNT 1
#define EFF_NET 2
#define EFF_USERNS 4
#define EFF_CAPS 8

struct baseline {
	u64 caps;
	u32 mntns;
	u32 netns;
	u32 userns;
	u32 euid;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, u32);
	__type(value, struct baseline);
} ctr_tasks SEC(".maps");

static __always_inline void state_of(struct task_struct *t, struct baseline *b)
{
	b->mntns = BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
	b->netns = BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
	b->userns = BPF_CORE_READ(t, cred, user_ns, ns.inum);
	b->euid = BPF_CORE_READ(t, cred, euid.val);
	const struct cred *c = BPF_CORE_READ(t, cred);
	b->caps = CRED_CAPS(c, cap_bset) | CRED_CAPS(c, cap_permitted) | CRED_CAPS(c, cap_effective);
}

/* where: 1 exec, 2 fork, 3 exit */
static __always_inline void emit_effect(u32 kind, u32 bits, struct baseline *was,
					struct baseline *now, u32 where, struct task_struct *task)
{
	struct event *e = reserve(kind, task);
	if (!e)
		return;
	e->args[0] = bits;
	e->args[1] = where;
	e->args[2] = ((u64)was->mntns << 32) | was->netns;
	e->args[3] = ((u64)was->userns << 32) | was->euid;
	e->args[4] = was->caps;
	e->args[5] = now->caps;
	submit(e, task);
}

/* Compares task `t` (the current task) with its baseline and reports what changed; `in_ctr`: it
 * is a container task now (a missing baseline is then made). */
static __always_inline void effects_check(struct task_struct *t, u32 tid, int in_ctr, u32 where)
{
	struct baseline now = {};
	state_of(t, &now);
	if (!now.mntns)
		return;
	struct baseline *b = bpf_map_lookup_elem(&ctr_tasks, &tid);
	if (!b) {
		if (in_ctr && bpf_map_update_elem(&ctr_tasks, &tid, &now, BPF_ANY))
			stat_inc(STAT_MAP_ERRORS);
		return;
	}
	u32 ns = 0, cr = 0;
	if (now.mntns == host_mntns && b->mntns != host_mntns)
		ns |= EFF_MNT;
	if (now.netns == host_netns && b->netns != host_netns)
		ns |= EFF_NET;
	if (now.userns == init_userns && b->userns != init_userns && (now.euid == 0 || now.caps))
		cr |= EFF_USERNS;
	if (now.userns == b->userns && (now.caps & ~b->caps))
		cr |= EFF_CAPS;
	if (ns || cr) {
		struct baseline was = *b;
		stat_inc(STAT_SEEN);
		if (ns)
			emit_effect(EV_NS_HOST, ns, &was, &now, where, t);
		if (cr)
			emit_effect(EV_CRED_ROOT, cr, &was, &now, where, t);
	}
	*b = now;
}

/* An event about `task`, which need not be the current task (the timer's sweep below runs in the
 * reader's context): everything is read from the task itself. */
static __always_inline struct event *reserve_task(u32 kind, struct task_struct *task)
{
	struct event *e = reserve_blank(kind);
	if (!e)
		return NULL;
	e->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	e->tid = BPF_CORE_READ(task, pid);
	e->tgid = BPF_CORE_READ(task, tgid);
	task_fields(e, task);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	return e;
}

/* The timer's look (user space runs this task iterator every second): every task with a
 * baseline is compared with it, so a task that switched and then only makes syscalls is seen
 * within a second, not at its exit. Its events go straight to the ring buffer: submit()'s
 * reactive kill would signal the reader, not the task. */
SEC("iter/task")
int effects_sweep(struct bpf_iter__task *ctx)
{
	struct task_struct *t = ctx->task;
	if (!t)
		return 0;
	u32 tid = t->pid;
	struct baseline *b = bpf_map_lookup_elem(&ctr_tasks, &tid);
	if (!b)
		return 0;
	struct baseline now = {};
	state_of(t, &now);
	if (!now.mntns)
		return 0;
	u32 ns = 0, cr = 0;
	if (now.mntns == host_mntns && b->mntns != host_mntns)
		ns |= EFF_MNT;
	if (now.netns == host_netns && b->netns != host_netns)
		ns |= EFF_NET;
	if (now.userns == init_userns && b->userns != init_userns && (now.euid == 0 || now.caps))
		cr |= EFF_USERNS;
	if (now.userns == b->userns && (now.caps & ~b->caps))
		cr |= EFF_CAPS;
	if (!ns && !cr)
		return 0;
	stat_inc(STAT_SEEN);
	for (int i = 0; i < 2; i++) {
		u32 bits = i ? cr : ns;
		if (!bits)
			continue;
		struct event *e = reserve_task(i ? EV_CRED_ROOT : EV_NS_HOST, t);
		if (!e)
			continue;
		e->args[0] = bits;
		e->args[1] = 4; /* the timer */
		e->args[2] = ((u64)b->mntns << 32) | b->netns;
		e->args[3] = ((u64)b->userns << 32) | b->euid;
		e->args[4] = b->caps;
		e->args[5] = now.caps;
		stat_inc(STAT_EMITTED);
		bpf_ringbuf_submit(e, 0);
	}
	*b = now;
	return 0;
}

static __always_inline void effects_fork(struct task_struct *parent, struct task_struct *child)
{
	u32 ptid = parent->pid, ctid = child->pid;
	struct task_struct *cur = bpf_get_current_task_btf();
	/* the parent is the current task (fork runs in it) */
	effects_check(cur, ptid, in_container(cur), 2);
	struct baseline *b = bpf_map_lookup_elem(&ctr_tasks, &ptid);
	if (!b) {
		bpf_map_delete_elem(&ctr_tasks, &ctid);
		return;
	}
	struct baseline copy = *b;
	if (bpf_map_update_elem(&ctr_tasks, &ctid, &copy, BPF_ANY))
		stat_inc(STAT_MAP_ERRORS);
}

static __always_inline void effects_exit(struct task_struct *p)
{
	u32 tid = p->pid;
	effects_check(bpf_get_current_task_btf(), tid, 0, 3);
	bpf_map_delete_elem(&ctr_tasks, &tid);
}

/* ---- usermode helpers: the host-side effect of release_agent, core_pattern, modprobe ----
 *
 * The kernel runs a usermode helper (call_usermodehelper) as a process it spawns from a kernel
 * thread (a kworker, or kthreadd through CLONE_PARENT) and execs as root in the host's
 * namespaces. Whatever wrote the setting (a write the open hooks saw, or a kernel exploit that
 * overwrote modprobe_path in memory), this exec is where the host runs the attacker's file. Every
 * such exec is reported (they are rare: module loads, hotplug, coredump pipes); user space
 * attributes it to the container whose root holds the file (bpf/../src/run.rs, helper_owner).
 * Init's own first exec (its parent is the idle task, a kernel thread too) is not a helper. */
static __always_inline void umh_exec(struct task_struct *cur, struct linux_binprm *bprm,
				     struct task_struct *task)
{
	if (!(BPF_CORE_READ(cur, real_parent, flags) & 0x00200000 /* PF_KTHREAD */))
		return;
	if (cur->tgid == 1)
		return;
	stat_inc(STAT_SEEN);
	struct event *e = reserve(EV_UMH, task);
	if (!e)
		return;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), BPF_CORE_READ(bprm, filename));
	/* the helper's argument vector, NUL-separated, as far as path2 holds it */
	unsigned long arg_start = BPF_CORE_READ(cur, mm, arg_start);
	unsigned long arg_end = BPF_CORE_READ(cur, mm, arg_end);
	u64 n = arg_end - arg_start;
	if (n > sizeof(e->path2) - 1)
		n = sizeof(e->path2) - 1;
	bpf_probe_read_user(e->path2, n & 127, (void *)arg_start);
	e->args[0] = n & 127;
	e->args[1] = BPF_CORE_READ(cur, real_parent, pid);
	BPF_CORE_READ_STR_INTO(&e->path3, cur, real_parent, comm);
	submit(e, task);
}

/* ---- exec: lineage, drift, fileless, /tmp, setuid-root, container start ---- */

SEC("tp_btf/sched_process_exec")
int BPF_PROG(tp_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct task_struct *cur = bpf_get_current_task_btf();
	setup_on_exec(cur);
	int in_ctr = in_container(cur);
	effects_check(cur, cur->pid, in_ctr, 1);
	if (!in_ctr) {
		umh_exec(cur, bprm, task);
		return 0;
	}
	stat_inc(STAT_SEEN);
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

/* ---- hook style "none" (the lean tier): no syscall tracepoint at all ----
 *
 * Any program on sys_enter, even an empty one, puts every syscall of every task on the kernel's
 * slow path (SYSCALL_WORK_SYSCALL_TRACEPOINT). This tier attaches none: it runs on the
 * capability:cap_capable tracepoint, which fires on each capability check, granted or refused,
 * i.e. only on the privileged operations it watches. The syscall being made and its arguments
 * come from the task's saved user registers, and go through the same classification (`handle`)
 * as the other two styles. One syscall may check capabilities several times (mount checks
 * CAP_SYS_ADMIN more than once): an event equal to the thread's last one (kind, arguments, paths)
 * within DEDUP_NS of it is taken to come from the same call and is not reported again. The
 * arguments alone do not do: a shell reuses one buffer for the paths of successive opens. */

SEC("tp_btf/cap_capable")
int BPF_PROG(cap_capable, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (t->flags & 0x00200000 /* PF_KTHREAD */)
		return 0;
	if (bpf_core_field_exists(t->thread_info.status) && (t->thread_info.status & TS_COMPAT))
		return 0;
	if (!in_container(t))
		return 0;
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(t);
	if (!regs)
		return 0;
	long id = BPF_CORE_READ(regs, orig_ax);
	if (!syscall_watched(id))
		return 0;
	/* A clone is reported by task_newtask (lean_newtask), once per task it makes, never here:
	 * a fork checks CAP_SYS_ADMIN once per private writable mapping it copies
	 * (security_vm_enough_memory, granted or refused), so the checks of one clone are many,
	 * spread over the copy, and a preemption among them would split a time-window merge.
	 * A clone that fails before it makes a task fails before those checks too (the new user
	 * namespace is made first), so nothing this hook saw of a clone is lost. */
	if (id == __NR_clone || id == __NR_clone3)
		return 0;
	stat_inc(STAT_SEEN);
	u64 a0 = BPF_CORE_READ(regs, di), a1 = BPF_CORE_READ(regs, si);
	u64 a2 = BPF_CORE_READ(regs, dx), a3 = BPF_CORE_READ(regs, r10);
	u32 zero = 0;
	u64 *armed = bpf_map_lookup_elem(&lean_armed, &zero);
	if (!armed) {
		stat_inc(STAT_MAP_ERRORS);
		return 0;
	}
	*armed = 1;
	handle(id, a0, a1, a2, a3, (struct task_struct *)bpf_get_current_task());
	*armed = 0;
	return 0;
}

/* io_uring_setup checks no capability: the lean tier sees it through io_uring's own
 * tracepoint, which fires once per ring created. */
SEC("tp_btf/io_uring_create")
int BPF_PROG(lean_io_uring, int fd, void *ring, u32 sq_entries, u32 cq_entries, u32 flags)
{
	if (!in_container(bpf_get_current_task_btf()))
		return 0;
	stat_inc(STAT_SEEN);
	struct simple s = {};
	s.a[0] = sq_entries;
	s.a[1] = flags;
	return emit_simple(EV_IO_URING, &s, (struct task_struct *)bpf_get_current_task());
}

/* Writes to escape sysctls (core_pattern, modprobe...) check no capability: the lean tier sees
 * them through a cgroup/sysctl program on the cgroup2 root, which runs on sysctl reads and
 * writes only. It never denies (that is the enforcement tier's cgroup/sysctl program). */
SEC("cgroup/sysctl")
int lean_sysctl(struct bpf_sysctl *ctx)
{
	if (!ctx->write)
		return 1;
	struct task_struct *t = bpf_get_current_task_btf();
	if (!in_container(t))
		return 1;
	char name[32] = {};
	if (bpf_sysctl_get_name(ctx, name, sizeof(name), 0) < 0)
		return 1;
	u32 cls;
	if (sysctl_name_is(name, "kernel/core_pattern", 19))
		cls = OPEN_CLASS_CORE_PATTERN;
	else if (sysctl_name_is(name, "kernel/modprobe", 15) ||
		 sysctl_name_is(name, "kernel/hotplug", 14) ||
		 sysctl_name_is(name, "kernel/poweroff_cmd", 19))
		cls = OPEN_CLASS_ESCAPE_SYSCTL;
	else
		return 1;
	stat_inc(STAT_SEEN);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = reserve(EV_OPEN, task);
	if (!e)
		return 1;
	e->args[0] = 1; /* O_WRONLY */
	e->args[1] = cls;
	__builtin_memcpy(e->path, "/proc/sys/", 10);
	bpf_probe_read_kernel_str(&e->path[10], sizeof(name), name);
	submit(e, task);
	return 1;
}

/* Connecting to an engine socket checks no capability: the lean tier sees AF_UNIX connects
 * through a cgroup/connect_unix program (Linux >= 6.7) on the cgroup2 root, which runs on
 * AF_UNIX connect() only. It reads the kernel's copy of the address; it never denies. The kfunc
 * is weak: a kernel without it (6.1 has none, it came in 6.2) still loads the object's other
 * programs (libbpf refuses the whole object over a missing strong one). */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;

SEC("cgroup/connect_unix")
int lean_connect_unix(struct bpf_sock_addr *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (!in_container(t))
		return 1;
	if (!bpf_ksym_exists(bpf_cast_to_kern_ctx))
		return 1;
	struct bpf_sock_addr_kern *k = bpf_cast_to_kern_ctx(ctx);
	struct sun_addr sa = {};
	bpf_probe_read_kernel(&sa, sizeof(sa), k->uaddr);
	stat_inc(STAT_SEEN);
	connect_check(&sa, (struct task_struct *)bpf_get_current_task());
	return 1;
}

/* Connecting to a node service checks no capability: the lean tier sees IPv4 connects through a
 * report-only cgroup/connect4 program on the cgroup2 root, which runs on connect() of IPv4
 * sockets only, before the route lookup (so a connect that then fails is seen too). It never
 * denies. */
SEC("cgroup/connect4")
int lean_connect4(struct bpf_sock_addr *ctx)
{
	struct task_struct *t = bpf_get_current_task_btf();
	if (!in_container(t))
		return 1;
	stat_inc(STAT_SEEN);
	connect4_check(ctx->user_ip4, bpf_ntohs((u16)ctx->user_port),
		       (struct task_struct *)bpf_get_current_task());
	return 1;
}

/* Opening a block device checks no capability: the lean tier sees it through a report-only
 * cgroup/dev program on the cgroup2 root. The kernel runs it on every device-node access
 * (open of /dev/null included, never a regular file) once any device program is attached; it
 * returns for character devices and mknod (the cap_capable program sees CAP_MKNOD) before
 * touching the task. It never denies (that is the enforcement tier's cgroup/dev program). */
SEC("cgroup/dev")
int lean_dev(struct bpf_cgroup_dev_ctx *ctx)
{
	u32 type = ctx->access_type & 0xffff, access = ctx->access_type >> 16;
	if (type != 1 /* BPF_DEVCG_DEV_BLOCK */ || (access & 1 /* BPF_DEVCG_ACC_MKNOD */))
		return 1;
	if (!in_container(bpf_get_current_task_btf()))
		return 1;
	stat_inc(STAT_SEEN);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = reserve(EV_DEV, task);
	if (!e)
		return 1;
	e->args[0] = 1; /* block */
	e->args[1] = ctx->major;
	e->args[2] = ((u64)access << 32) | ctx->minor;
	/* one open checks the device twice (inode permission, then the block device's own open):
	 * the second check is the same event as the first, within the de-dup window */
	if (same_as_last(e)) {
		bpf_ringbuf_discard(e, BPF_RB_NO_WAKEUP);
		return 1;
	}
	submit(e, task);
	return 1;
}

/* unshare/clone of a user namespace checks no capability of its own. A clone that makes a task
 * in a new user namespace is seen by the task_newtask tracepoint (in the parent, on every fork: one
 * flags test for the others); an unshare makes no task and stays unseen. */
SEC("tp_btf/task_newtask")
int BPF_PROG(lean_newtask, struct task_struct *p, u64 clone_flags)
{
	if (!(clone_flags & CLONE_NEWUSER))
		return 0;
	if (!in_container(bpf_get_current_task_btf()))
		return 0;
	stat_inc(STAT_SEEN);
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct event *e = reserve(EV_USERNS, task);
	if (!e)
		return 0;
	e->args[0] = clone_flags;
	/* one event per task made: the capability checks of the same clone are not reported
	 * (cap_capable skips clone and clone3), and two identical clones are two events */
	submit(e, task);
	return 0;
}
