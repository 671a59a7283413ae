// skd-trigger: safe triggers for `stockade watch` behaviours that busybox cannot produce.
// Every trigger acts on the caller's own processes, own files or its own mount namespace, and
// fails harmlessly where it would have an effect. Built statically (clang -static) by the tests so
// it runs inside a busybox container.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/capability.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static pid_t child_sleeper(void)
{
	pid_t p = fork();
	if (p == 0) {
		for (;;)
			pause();
	}
	usleep(20000);
	return p;
}

static void reap(pid_t p)
{
	kill(p, SIGKILL);
	waitpid(p, NULL, 0);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: skd-trigger NAME [ARG]\n");
		return 2;
	}
	const char *t = argv[1];
	long r = 0;
	if (!strcmp(t, "as") && argc > 3) {
		/* as NAME TRIGGER [ARG]: take a container runtime's name, then run TRIGGER */
		prctl(PR_SET_NAME, argv[2], 0, 0, 0);
		return main(argc - 2, argv + 2);
	}
	if (!strcmp(t, "fsopen")) {
		r = syscall(SYS_fsopen, "tmpfs", 0);
	} else if (!strcmp(t, "fsopen_mount")) {
		/* the whole new mount API: fsopen, fsconfig, fsmount, move_mount onto ARG */
		int fs = syscall(SYS_fsopen, "tmpfs", 0);
		r = fs;
		if (fs >= 0) {
			syscall(SYS_fsconfig, fs, 6 /* FSCONFIG_CMD_CREATE */, NULL, NULL, 0);
			int m = syscall(SYS_fsmount, fs, 0, 0);
			r = m;
			if (m >= 0)
				r = syscall(SYS_move_mount, m, "", AT_FDCWD, argc > 2 ? argv[2] : "/mnt",
					    4 /* MOVE_MOUNT_F_EMPTY_PATH */);
			if (r == 0)
				umount2(argc > 2 ? argv[2] : "/mnt", MNT_DETACH);
		}
	} else if (!strcmp(t, "clone_userns")) {
		/* a child in a new user namespace (clone, not unshare: a new task), which exits;
		 * ARG times (default once), back to back: distinct calls, one event each */
		int n = argc > 2 ? atoi(argv[2]) : 1;
		for (int i = 0; i < n; i++) {
			r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
			if (r == 0)
				_exit(0);
			if (r > 0)
				waitpid(r, NULL, 0);
		}
	} else if (!strcmp(t, "open_tree")) {
		r = syscall(SYS_open_tree, AT_FDCWD, "/tmp", 1 /* OPEN_TREE_CLONE */);
	} else if (!strcmp(t, "ptrace")) {
		pid_t c = child_sleeper();
		r = ptrace(PTRACE_ATTACH, c, 0, 0);
		if (r == 0)
			waitpid(c, NULL, 0);
		reap(c);
	} else if (!strcmp(t, "proc_mem")) {
		pid_t c = child_sleeper();
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", c);
		r = open(path, O_RDWR);
		reap(c);
	} else if (!strcmp(t, "process_vm_writev")) {
		pid_t c = child_sleeper();
		static char buf[8];
		struct iovec l = {buf, 1}, rem = {buf, 1};
		r = process_vm_writev(c, &l, 1, &rem, 1, 0);
		reap(c);
	} else if (!strcmp(t, "socket")) {
		r = socket(38 /* AF_ALG */, SOCK_SEQPACKET, 0);
	} else if (!strcmp(t, "bpf")) {
		r = syscall(SYS_bpf, 12 /* BPF_PROG_GET_NEXT_ID */, NULL, 0);
	} else if (!strcmp(t, "perf")) {
		r = syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0);
	} else if (!strcmp(t, "open_by_handle_at")) {
		r = syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY);
	} else if (!strcmp(t, "userfaultfd")) {
		r = syscall(SYS_userfaultfd, 1 /* UFFD_USER_MODE_ONLY */);
	} else if (!strcmp(t, "io_uring")) {
		r = syscall(SYS_io_uring_setup, 4, NULL);
	} else if (!strcmp(t, "connect")) {
		/* against our own listener */
		const char *path = argc > 2 ? argv[2] : "/tmp/skd/docker.sock";
		int srv = socket(AF_UNIX, SOCK_STREAM, 0);
		struct sockaddr_un a = {.sun_family = AF_UNIX};
		strncpy(a.sun_path, path, sizeof(a.sun_path) - 1);
		unlink(path);
		bind(srv, (void *)&a, sizeof(a));
		listen(srv, 1);
		int s = socket(AF_UNIX, SOCK_STREAM, 0);
		r = connect(s, (void *)&a, sizeof(a));
		unlink(path);
	} else if (!strcmp(t, "connect4")) {
		/* connect4 A.B.C.D PORT: a non-blocking IPv4 connect, given 300 ms, then closed; no
		 * byte is sent (a node service stand-in or an unreachable address) */
		struct sockaddr_in a = {.sin_family = AF_INET};
		a.sin_port = htons(argc > 3 ? atoi(argv[3]) : 80);
		inet_pton(AF_INET, argc > 2 ? argv[2] : "169.254.169.254", &a.sin_addr);
		int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		r = connect(s, (void *)&a, sizeof(a));
		if (r < 0 && errno == EINPROGRESS) {
			struct pollfd p = {.fd = s, .events = POLLOUT};
			poll(&p, 1, 300);
		}
		close(s);
	} else if (!strcmp(t, "memfd_exec")) {
		int fd = memfd_create("skd", MFD_CLOEXEC);
		int src = open("/proc/self/exe", O_RDONLY);
		char buf[65536];
		ssize_t n;
		while ((n = read(src, buf, sizeof(buf))) > 0)
			write(fd, buf, n);
		char *av[] = {"skd-trigger", "noop", NULL};
		fexecve(fd, av, environ);
		r = -1;
	} else if (!strcmp(t, "module")) {
		r = syscall(SYS_finit_module, -1, "", 0);
	} else if (!strcmp(t, "setuid0")) {
		r = setuid(0);
	} else if (!strcmp(t, "self_exe")) {
		r = open("/proc/self/exe", O_WRONLY | O_APPEND);
	} else if (!strcmp(t, "flood")) {
		/* event flood: N bpf() calls with an invalid command (EINVAL, nothing happens),
		 * optionally paced to RATE calls per second (catching up when behind). With "cap"
		 * as the fourth argument the calls are BPF_PROG_GET_NEXT_ID and BPF_MAP_GET_NEXT_ID
		 * in turn (read-only; they check CAP_SYS_ADMIN, so the lean tier sees them: an
		 * invalid command checks no capability on Linux >= 6.9). The two commands alternate
		 * so that no two consecutive calls are identical: the lean tier takes a thread's
		 * identical events within 1 ms for one call and reports it once. */
		long n = argc > 2 ? atol(argv[2]) : 1000000;
		long rate = argc > 3 ? atol(argv[3]) : 0;
		int cap = argc > 4 && !strcmp(argv[4], "cap");
		struct timespec t0, t;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < n; i++) {
			if (rate > 0 && (i & 63) == 0) {
				double due = (double)i / rate;
				for (;;) {
					clock_gettime(CLOCK_MONOTONIC, &t);
					double el = (t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9;
					if (el >= due)
						break;
				}
			}
			if (cap)
				syscall(SYS_bpf, 11 + (int)(i & 1), NULL, 0);
			else
				syscall(SYS_bpf, -1, NULL, 0);
		}
		/* CLOCK_MONOTONIC start and end, so that the benchmark can compute the rate that
		 * several producers reached together, without process start-up */
		clock_gettime(CLOCK_MONOTONIC, &t);
		printf("flood %ld %.6f %.6f\n", n, t0.tv_sec + t0.tv_nsec / 1e9,
		       t.tv_sec + t.tv_nsec / 1e9);
		return 0;
	} else if (!strcmp(t, "setns_sleep") && argc > 2) {
		/* join the mount namespace of process ARG, then stay without exec, fork or exit for
		 * three seconds (only a periodic look sees the switch before the exit) */
		char p[64];
		snprintf(p, sizeof(p), "/proc/%s/ns/mnt", argv[2]);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		r = fd < 0 ? -1 : setns(fd, CLONE_NEWNS);
		if (r == 0) {
			printf("joined\n");
			fflush(stdout);
			sleep(3);
		}
	} else if (!strcmp(t, "inh_beyond_bset")) {
		/* SKD-RUN-042's effect by a legitimate kernel path: keep CAP_SYS_ADMIN in the
		 * inheritable set, drop it from the bounding, permitted and effective sets, fork
		 * (the sensor's baseline becomes the lowered sets), and let the child, root, execute
		 * a plain file: a root exec gives permitted = bounding | inheritable, so the child
		 * holds a capability outside the bounding set it had, without set*id or a setuid
		 * file. Needs CAP_SETPCAP and no_new_privs off; changes only this process tree. */
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		const int cap = CAP_SYS_ADMIN;
		r = syscall(SYS_capget, &h, d);
		if (r == 0) {
			d[cap / 32].inheritable |= 1u << (cap % 32);
			r = syscall(SYS_capset, &h, d);
		}
		if (r == 0)
			r = prctl(PR_CAPBSET_DROP, cap, 0, 0, 0);
		if (r == 0) {
			d[cap / 32].permitted &= ~(1u << (cap % 32));
			d[cap / 32].effective &= ~(1u << (cap % 32));
			r = syscall(SYS_capset, &h, d);
		}
		if (r == 0) {
			pid_t p = fork();
			if (p == 0) {
				execl("/proc/self/exe", "skd-trigger", "show_caps", (char *)NULL);
				_exit(127);
			}
			int st = 0;
			waitpid(p, &st, 0);
			r = WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
		}
	} else if (!strcmp(t, "dirty_pipe") && argc > 2) {
		/* The Dirty Pipe pattern (CVE-2022-0847) against a scratch file ARG this trigger makes
		 * (root-owned, mode 0444): a child that cannot write the file (it drops to uid 65534
		 * when root) opens it read-only, fills and drains a pipe (every slot then once held a
		 * mergeable buffer), splices the file's first byte into the pipe and writes "X" into
		 * the pipe. A fixed kernel gives the write a buffer of its own; a vulnerable one writes
		 * it into the file's page cache at offset 1. Prints which, then removes the file. */
		static const char orig[] = "stockade dirty pipe scratch\n";
		static char buf[4096];
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0444);
		if (fd < 0 || write(fd, orig, sizeof(orig) - 1) != sizeof(orig) - 1) {
			perror("dirty_pipe: scratch file");
			return 1;
		}
		close(fd);
		pid_t p = fork();
		if (p == 0) {
			if (getuid() == 0 &&
			    (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)))
				_exit(3);
			if (open(argv[2], O_WRONLY | O_CLOEXEC) >= 0)
				_exit(4); /* the file must be one this process cannot write */
			int rfd = open(argv[2], O_RDONLY | O_CLOEXEC);
			int pp[2];
			if (rfd < 0 || pipe2(pp, O_CLOEXEC))
				_exit(5);
			long left = fcntl(pp[1], F_GETPIPE_SZ);
			while (left > 0) {
				long n = write(pp[1], buf, left < (long)sizeof(buf) ? left : (long)sizeof(buf));
				if (n <= 0)
					_exit(6);
				left -= n;
			}
			left = fcntl(pp[1], F_GETPIPE_SZ);
			while (left > 0) {
				long n = read(pp[0], buf, sizeof(buf));
				if (n <= 0)
					_exit(6);
				left -= n;
			}
			loff_t off = 0;
			if (splice(rfd, &off, pp[1], NULL, 1, 0) != 1)
				_exit(7);
			_exit(write(pp[1], "X", 1) == 1 ? 0 : 8);
		}
		int st = 0;
		waitpid(p, &st, 0);
		char back[sizeof(orig)] = { 0 };
		fd = open(argv[2], O_RDONLY | O_CLOEXEC);
		long n = fd < 0 ? -1 : read(fd, back, sizeof(back) - 1);
		if (fd >= 0)
			close(fd);
		unlink(argv[2]);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			printf("dirty_pipe: the pattern did not run (child status %d)\n", st);
			return 1;
		}
		printf("dirty_pipe: spliced and wrote; the file is %s\n",
		       n == (long)sizeof(orig) - 1 && !memcmp(back, orig, n) ?
			       "unchanged" :
			       "CHANGED (this kernel writes into the page cache)");
		return 0;
	} else if (!strcmp(t, "splice_relay") && argc > 2) {
		/* What a relay does with splice (a negative of SKD-RUN-044): splice the first bytes
		 * of file ARG into a pipe, read them out of the pipe, then write into the now empty
		 * pipe and read that back. No write meets a page-cache buffer. */
		char b[64];
		int rfd = open(argv[2], O_RDONLY | O_CLOEXEC), pp[2];
		r = rfd < 0 || pipe2(pp, O_CLOEXEC) ? -1 : 0;
		loff_t off = 0;
		if (r == 0 && splice(rfd, &off, pp[1], NULL, 8, 0) <= 0)
			r = -1;
		if (r == 0 && read(pp[0], b, sizeof(b)) <= 0)
			r = -1;
		if (r == 0 && (write(pp[1], "relay", 5) != 5 || read(pp[0], b, sizeof(b)) != 5))
			r = -1;
	} else if (!strcmp(t, "cred_root") && argc > 2) {
		/* SKD-RUN-042's initial-user-namespace half, with the QEMU guest's test module
		 * (crates/watch/qemu/skd-cred): a write to its proc file ARG runs
		 * commit_creds(prepare_kernel_cred(&init_task)) in this task, the payload of a kernel
		 * exploit without the bug. Drops to uid 65534 first when root, writes, prints what it
		 * became, then stays three seconds without exec, fork or exit (only the sensor's
		 * periodic look sees the change before the exit). */
		if (getuid() == 0 && (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534)))
			return 3;
		int fd = open(argv[2], O_WRONLY | O_CLOEXEC);
		r = fd < 0 ? -1 : write(fd, "1", 1);
		if (fd >= 0)
			close(fd);
		if (r == 1) {
			char ns[64] = "";
			ssize_t n = readlink("/proc/self/ns/user", ns, sizeof(ns) - 1);
			ns[n > 0 ? n : 0] = 0;
			printf("cred_root: uid %d euid %d %s\n", (int)getuid(), (int)geteuid(), ns);
			fflush(stdout);
			sleep(3);
			r = 0;
		}
	} else if (!strcmp(t, "show_caps")) {
		/* prints CapPrm and CapBnd; exits 0 when CAP_SYS_ADMIN is permitted but not bounded */
		FILE *f = fopen("/proc/self/status", "re");
		char line[256];
		unsigned long long prm = 0, bnd = 0;
		while (f && fgets(line, sizeof(line), f)) {
			if (!strncmp(line, "CapPrm:", 7))
				prm = strtoull(line + 7, NULL, 16);
			else if (!strncmp(line, "CapBnd:", 7))
				bnd = strtoull(line + 7, NULL, 16);
		}
		if (f)
			fclose(f);
		int beyond = (prm >> CAP_SYS_ADMIN & 1) && !(bnd >> CAP_SYS_ADMIN & 1);
		printf("CapPrm %llx CapBnd %llx: %s\n", prm, bnd,
		       beyond ? "beyond the bounding set" : "within the bounding set");
		return beyond ? 0 : 1;
	} else if (!strcmp(t, "noop")) {
		return 0;
	} else {
		fprintf(stderr, "unknown trigger %s\n", t);
		return 2;
	}
	printf("%s: %ld (%s)\n", t, r, r < 0 ? strerror(errno) : "ok");
	return r < 0 ? 1 : 0;
}
