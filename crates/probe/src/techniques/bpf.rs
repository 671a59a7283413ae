//! **E30 bpf.** Loads a two-instruction socket-filter program (`r0 = 0; exit`). A loaded program
//! proves the verifier and JIT are reachable (the bpf bug class), and with CAP_BPF/SYS_ADMIN far
//! more program types. Stopped by: capabilities (with `kernel.unprivileged_bpf_disabled`),
//! seccomp (moby allows bpf only with CAP_SYS_ADMIN/BPF), sysctl.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "bpf",
    eid: "E30",
    title: "bpf(BPF_PROG_LOAD) socket filter",
    layers: "C (BPF/SYS_ADMIN), S, K (unprivileged_bpf_disabled)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    // r0 = 0 (BPF_ALU64|BPF_MOV|BPF_K = 0xb7); exit (BPF_JMP|BPF_EXIT = 0x95).
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = b"GPL\0";
    let mut attr = [0u64; 16];
    attr[0] = 1 | (2u64 << 32); // prog_type SOCKET_FILTER, insn_cnt 2
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    // SAFETY: attr is a zeroed bpf_attr-sized buffer pointing at live local data.
    let r = unsafe { libc::syscall(libc::SYS_bpf, 5, attr.as_mut_ptr(), 128u32) };
    match sys::fd_result(r) {
        Ok(_fd) => Outcome::exposed("BPF_PROG_LOAD of a socket filter returned a program fd"),
        Err(libc::ENOSYS) if !ctx.state.seccomp_on() => Outcome::na("kernel built without bpf(2)"),
        Err(e) => {
            let priv_ok = ctx.state.has_cap(cap::BPF) || ctx.state.has_cap(cap::SYS_ADMIN);
            let knob = super::sysctl("/proc/sys/kernel/unprivileged_bpf_disabled").unwrap_or(-1);
            if e == libc::EPERM && !priv_ok && knob != 0 {
                let layer = if ctx.state.seccomp_on() {
                    Layer::CapabilityOrSeccomp
                } else {
                    Layer::Capability
                };
                return Outcome::blocked(
                    e,
                    layer,
                    format!("BPF_PROG_LOAD: EPERM (no CAP_BPF/SYS_ADMIN, unprivileged_bpf_disabled={knob})"),
                );
            }
            let mut o = ctx.blocked(e, Some(cap::BPF), "BPF_PROG_LOAD");
            if let Outcome::Blocked { detail, .. } = &mut o {
                *detail = format!("BPF_PROG_LOAD: {}", errno_name(e));
            }
            o
        }
    }
}
