//! **E07 port I/O.** `iopl(3)` in the probe's own technique process (which exits right after):
//! success grants raw access to all I/O ports of the host. Stopped by: capabilities (SYS_RAWIO),
//! seccomp, kernel lockdown.

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "iopl",
    eid: "E07",
    title: "iopl(3) raw I/O port access",
    layers: "C (SYS_RAWIO), S, K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    // SAFETY: iopl only changes this (short-lived, forked) process's I/O privilege level; no port
    // is touched.
    let r = unsafe { libc::syscall(libc::SYS_iopl, 3) };
    if r == 0 {
        // SAFETY: drop it again.
        unsafe { libc::syscall(libc::SYS_iopl, 0) };
        return Outcome::exposed(
            "iopl(3) granted I/O port access (dropped again, no port touched)",
        );
    }
    match sys::errno() {
        libc::ENOSYS if !ctx.state.seccomp_on() => Outcome::na("kernel without iopl emulation"),
        libc::ENOSYS => Outcome::blocked(
            libc::ENOSYS,
            crate::Layer::Unknown,
            "iopl(3): ENOSYS (kernel without iopl emulation, or a seccomp ENOSYS stub)",
        ),
        e => ctx.blocked(e, Some(cap::SYS_RAWIO), "iopl(3)"),
    }
}
