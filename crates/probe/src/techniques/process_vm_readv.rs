//! **E15 (process_vm_readv).** Reads 16 bytes of the target process's memory at the start of
//! its first mapping. Same access check as ptrace-read. Stopped by: a separate pid namespace,
//! capabilities (SYS_PTRACE), seccomp (moby allows it on ≥4.8 kernels), Yama.

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "process-vm-readv",
    eid: "E15",
    title: "read a host process's memory (process_vm_readv)",
    layers: "pid-ns, C (SYS_PTRACE), S, LSM",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let pid = match super::target_pid(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let maps = match sys::read_to_string(format!("/proc/{pid}/maps")) {
        Ok(m) => m,
        Err(e) => return ctx.blocked(e, Some(cap::SYS_PTRACE), "read /proc/PID/maps"),
    };
    let Some(addr) = maps
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(1)
                .is_some_and(|p| p.starts_with('r'))
        })
        .filter_map(|l| l.split('-').next())
        .find_map(|a| usize::from_str_radix(a, 16).ok())
    else {
        return Outcome::blocked(
            libc::EACCES,
            ctx.state.attribute(libc::EACCES, Some(cap::SYS_PTRACE)),
            "maps empty (no ptrace-read access)",
        );
    };
    let mut buf = [0u8; 16];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: reading into our own 16-byte buffer.
    let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
    if n > 0 {
        return Outcome::escaped(format!(
            "read {n} bytes of pid {pid} memory at {addr:#x}: {:02x?}",
            &buf[..4.min(n as usize)]
        ));
    }
    ctx.blocked(sys::errno(), Some(cap::SYS_PTRACE), "process_vm_readv")
}
