// Loads a BPF object, attaches every program in it and waits for SIGTERM/SIGINT; prints
// "running" on stderr once attached. For bench/watch-overhead.sh (the empty-program floor).
//   watch-floor OBJECT.bpf.o
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: watch-floor OBJECT.bpf.o\n");
		return 2;
	}
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || libbpf_get_error(obj)) {
		fprintf(stderr, "watch-floor: cannot open %s\n", argv[1]);
		return 1;
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "watch-floor: cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *p;
	bpf_object__for_each_program(p, obj)
	{
		if (libbpf_get_error(bpf_program__attach(p))) {
			fprintf(stderr, "watch-floor: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	fprintf(stderr, "watch-floor: running\n");
	while (!stop)
		pause();
	bpf_object__close(obj);
	return 0;
}
