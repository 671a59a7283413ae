//! **E15 ptrace-host.** `PTRACE_SEIZE` on the target process (the caller's host sleeper; the
//! tracee is never stopped and is detached when the technique process exits). An attach is one
//! step from injecting code into a host process. Stopped by: a separate pid namespace,
//! capabilities (SYS_PTRACE), seccomp, Yama/LSM.

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "ptrace",
    eid: "E15",
    title: "ptrace attach to a host process",
    layers: "pid-ns, C (SYS_PTRACE), S, LSM",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let pid = match super::target_pid(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let comm = sys::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    // SAFETY: PTRACE_SEIZE does not stop the tracee; we exit right after, which detaches.
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_SEIZE,
            pid,
            std::ptr::null_mut::<libc::c_void>(),
            std::ptr::null_mut::<libc::c_void>(),
        )
    };
    if r == 0 {
        return Outcome::escaped(format!(
            "PTRACE_SEIZE attached to pid {pid} ({}); detached on exit",
            comm.trim()
        ));
    }
    let e = sys::errno();
    if e == libc::EPERM && ctx.state.has_cap(cap::SYS_PTRACE) && !ctx.state.seccomp_on() {
        let yama = super::sysctl("/proc/sys/kernel/yama/ptrace_scope");
        if yama.unwrap_or(0) >= 3 {
            return Outcome::blocked(e, crate::Layer::Lsm, "PTRACE_SEIZE: Yama ptrace_scope=3");
        }
    }
    ctx.blocked(e, Some(cap::SYS_PTRACE), "PTRACE_SEIZE")
}
