/* A 32-bit (x86, int 0x80) getpid from a 64-bit process: prints its result.
 * The hardened default seccomp profile lists only the native architecture,
 * so there the kernel kills this thread (SIGSYS) before anything is printed. */
#include <stdio.h>

int main(void)
{
	long r;
	/* __NR_getpid is 20 in the i386 table */
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory");
	printf("compat getpid=%ld\n", r);
	return 0;
}
