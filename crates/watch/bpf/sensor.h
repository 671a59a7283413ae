/* Shared between sensor.bpf.c and enforce.bpf.c. The Rust side gets `struct event` from the
 * generated skeleton, so the layout is defined once, here. */
#ifndef STOCKADE_SENSOR_H
#define STOCKADE_SENSOR_H

#define PATH_LEN 256

enum event_kind {
	EV_OPEN = 1,
	EV_MOUNT = 2,
	EV_NEWMOUNT = 3,
	EV_MKNOD = 4,
	EV_SETNS = 5,
	EV_USERNS = 6,
	EV_PTRACE = 7,
	EV_PVM_WRITEV = 8,
	EV_MODULE = 9,
	EV_SOCKET = 10,
	EV_BPF = 11,
	EV_PERF = 12,
	EV_OPEN_BY_HANDLE = 13,
	EV_USERFAULTFD = 14,
	EV_IO_URING = 15,
	EV_CONNECT = 16,
	EV_LINK = 17,
	EV_CHMOD = 18,
	EV_SETUID = 19,
	EV_CWD_OUTSIDE = 20,
	EV_EXEC = 21,
	EV_DEV = 22, /* lean tier: a block device opened (report-only cgroup/dev) */
	EV_CONNECT4 = 23, /* IPv4 connect to a node service (node_services map) */
	/* effects (sensor.bpf.c, "ctr_tasks"): what a container task became, not what it called */
	EV_NS_HOST = 24, /* its mount or network namespace became the host's */
	EV_CRED_ROOT = 25, /* its credentials moved to the initial user namespace, or gained
			    * capabilities beyond its bounding set */
	EV_UMH = 26, /* a usermode helper executed (a process the kernel spawned from a kernel thread:
		      * release_agent, core_pattern pipe, modprobe, hotplug...) */
	EV_PIPE_PAGE_WRITE = 27, /* a write into a pipe whose newest buffer is a file's page-cache
				  * page (spliced from the file): the Dirty Pipe pattern */
	/* from the enforcement programs (cgroup BPF, BPF-LSM) */
	EV_DENY_DEV = 40,
	EV_DENY_SYSCTL = 41,
	/* 42 was EV_DENY_SOCKET (cgroup/sock_create runs only for INET/INET6: removed) */
	EV_DENY_LSM = 43,
};

enum open_class {
	OPEN_CLASS_RELEASE_AGENT = 1,
	OPEN_CLASS_NOTIFY_ON_RELEASE = 2,
	OPEN_CLASS_CORE_PATTERN = 3,
	OPEN_CLASS_ESCAPE_SYSCTL = 4,
	OPEN_CLASS_DEVICE = 5,
	OPEN_CLASS_PROC_MEM = 6,
	OPEN_CLASS_PROC_FOREIGN = 7,
	OPEN_CLASS_SELF_EXE = 8,
	OPEN_CLASS_K8S_CREDS = 9,
	OPEN_CLASS_RECON = 10,
	OPEN_CLASS_IGNORE = 11,
};

#define CLASS_WRITE_ONLY 0x100

enum verdict {
	VERDICT_ALLOWED = 0,
	VERDICT_KILLED = 1,
	VERDICT_DENIED = 2,
};

/* event.flags: the task belongs to a container runtime's set-up lineage (sensor.bpf.c,
 * "setup_tasks"): a runtime started on the host, or a process it forked that has not yet
 * executed anything inside a container. */
#define EVF_SETUP 1

struct event {
	unsigned long long ts_ns;
	unsigned long long cgroup_id;
	unsigned long long reaper_start_ns;
	unsigned long long cap_eff;
	unsigned long long args[6];
	unsigned int kind;
	unsigned int verdict;
	unsigned int tid;
	unsigned int tgid;
	unsigned int ppid;
	unsigned int vpid;
	unsigned int pidns;
	unsigned int mntns;
	unsigned int uid;
	unsigned int euid;
	/* EVF_* */
	unsigned int flags;
	char comm[16];
	char pcomm[16];
	char cg_leaf[96];
	char cg_parent[96];
	char cg_grand[64];
	char path[PATH_LEN];
	char path2[128];
	char path3[32];
};

/* A sysctl name (as cgroup/sysctl programs read it, NUL-terminated) equals the literal `lit` of
 * length `n`; the first 24 bytes are compared, then the terminator at `n`. Shared by the lean
 * tier's report-only program (sensor.bpf.c) and the enforcement tier's (enforce.bpf.c). */
static __always_inline int sysctl_name_is(const char *a, const char *lit, int n)
{
	for (int i = 0; i < 24; i++) {
		if (i >= n)
			break;
		if (a[i] != lit[i])
			return 0;
	}
	return a[n] == 0;
}

#endif
