// Micro-benchmarks for bench/watch-overhead.sh: runs one loop for a given (wall-clock) time and
// prints the CPU time per operation in nanoseconds: the process's own and that of the children
// it reaped, so that time spent preempted by other jobs on a shared machine does not count.
//   watch-bench LOOP SECONDS [CPU]      LOOP: openclose | getpid | write | exec | fork
// (write: one byte to /dev/null, a write the sensor looks at: SKD-RUN-044 checks every write's fd)
// With CPU, the process (and its children) is pinned to that CPU first.
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double cpu(void)
{
	struct timespec ts;
	struct rusage ch;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	getrusage(RUSAGE_CHILDREN, &ch);
	return ts.tv_sec * 1e9 + ts.tv_nsec +
	       (ch.ru_utime.tv_sec + ch.ru_stime.tv_sec) * 1e9 +
	       (ch.ru_utime.tv_usec + ch.ru_stime.tv_usec) * 1e3;
}

static void one(const char *mode, const char *self)
{
	if (!strcmp(mode, "openclose")) {
		close(open("/dev/null", O_RDONLY));
	} else if (!strcmp(mode, "getpid")) {
		syscall(SYS_getpid);
	} else if (!strcmp(mode, "write")) {
		static int null = -1;
		if (null < 0)
			null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (write(null, "x", 1) != 1)
			_exit(1);
	} else if (!strcmp(mode, "exec")) {
		pid_t p = fork();
		if (p == 0) {
			execl(self, self, "noop", (char *)NULL);
			_exit(127);
		}
		waitpid(p, NULL, 0);
	} else {
		pid_t p = fork();
		if (p == 0)
			_exit(0);
		waitpid(p, NULL, 0);
	}
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "noop"))
		return 0;
	if (argc < 3) {
		fprintf(stderr, "usage: watch-bench openclose|getpid|write|exec|fork SECONDS [CPU]\n");
		return 2;
	}
	const char *mode = argv[1];
	if (strcmp(mode, "openclose") && strcmp(mode, "getpid") && strcmp(mode, "write") &&
	    strcmp(mode, "exec") && strcmp(mode, "fork")) {
		fprintf(stderr, "watch-bench: unknown loop %s\n", mode);
		return 2;
	}
	double secs = atof(argv[2]);
	if (argc > 3) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(atoi(argv[3]), &set);
		if (sched_setaffinity(0, sizeof(set), &set)) {
			perror("watch-bench: sched_setaffinity");
			return 1;
		}
	}
	/* the cheap loops check the clock every 1024 operations */
	long batch =
		(!strcmp(mode, "openclose") || !strcmp(mode, "getpid") || !strcmp(mode, "write")) ?
			1024 :
			1;
	/* warm-up: caches, page tables, the dentry of /dev/null */
	for (long i = 0; i < batch; i++)
		one(mode, argv[0]);
	long n = 0;
	double c0 = cpu(), end = now() + secs * 1e9;
	do {
		for (long i = 0; i < batch; i++)
			one(mode, argv[0]);
		n += batch;
	} while (now() < end);
	printf("%.2f\n", (cpu() - c0) / n);
	return 0;
}
