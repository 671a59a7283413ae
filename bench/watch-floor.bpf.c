// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
// The kernel's floor for `stockade watch`: a raw sys_enter program that returns at once. With
// it attached every task's syscalls take the tracing slow path; bench/watch-overhead.sh
// measures that against no program and against the real sensor.
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	return 0;
}
