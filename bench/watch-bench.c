// Micro-benchmarks for bench/watch-overhead.sh: prints nanoseconds per operation.
//   watch-bench openclose N | getpid N | exec N | fork N
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	const char *mode = argv[1];
	long n = atol(argv[2]);
	double t0 = now();
	if (!strcmp(mode, "openclose")) {
		for (long i = 0; i < n; i++)
			close(open("/dev/null", O_RDONLY));
	} else if (!strcmp(mode, "getpid")) {
		for (long i = 0; i < n; i++)
			syscall(SYS_getpid);
	} else if (!strcmp(mode, "exec")) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0) {
				execl(argv[0], argv[0], "noop", "0", (char *)NULL);
				_exit(127);
			}
			waitpid(p, NULL, 0);
		}
	} else if (!strcmp(mode, "fork")) {
		for (long i = 0; i < n; i++) {
			pid_t p = fork();
			if (p == 0)
				_exit(0);
			waitpid(p, NULL, 0);
		}
	} else if (!strcmp(mode, "noop")) {
		return 0;
	} else {
		return 2;
	}
	printf("%.1f\n", (now() - t0) / n);
	return 0;
}
