//! **E16 kernel-module.** `finit_module(-1, "", 0)`: EBADF means the permission checks passed and
//! only the fd was wrong, so a real module would load (host kernel code execution). EPERM is
//! blocked; ENOSYS means no module support. Stopped by: capabilities (SYS_MODULE), seccomp,
//! kernel (`modules_disabled`, lockdown).

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "kernel-module",
    eid: "E16",
    title: "finit_module permission check (load host kernel code)",
    layers: "C (SYS_MODULE), S, K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/proc/modules").exists()
        && std::path::Path::new("/proc/self").exists()
    {
        return Outcome::na("kernel built without module support (no /proc/modules)");
    }
    let empty = sys::cstr("");
    // SAFETY: an invalid fd and an empty parameter string: nothing can be loaded.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, -1i32, empty.as_ptr(), 0) };
    if r >= 0 {
        return Outcome::inconclusive("finit_module(-1) unexpectedly succeeded");
    }
    match sys::errno() {
        libc::EBADF => {
            Outcome::exposed("finit_module passed the permission checks (EBADF on the bogus fd)")
        }
        libc::ENOSYS if !ctx.state.seccomp_on() => {
            Outcome::na("kernel built without module support (finit_module: ENOSYS)")
        }
        e => ctx.blocked(e, Some(cap::SYS_MODULE), "finit_module"),
    }
}
