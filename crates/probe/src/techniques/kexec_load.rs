//! **kexec-load** (catalogue §2.1: moby blocks kexec_* for everyone). `kexec_load` with an invalid
//! flag and too many segments: the kernel checks CAP_SYS_BOOT and lockdown *before* the flags, so
//! EINVAL means a real kernel image could be staged (replace the host kernel on the next reboot
//! or crash). Nothing is loaded. Stopped by: capabilities (SYS_BOOT), seccomp, kernel lockdown.

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "kexec-load",
    eid: "-",
    title: "kexec_load permission check (replace the host kernel)",
    layers: "C (SYS_BOOT), S, K (lockdown)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if std::path::Path::new("/sys/kernel").exists()
        && !std::path::Path::new("/sys/kernel/kexec_loaded").exists()
    {
        return Outcome::na("kernel built without kexec (no /sys/kernel/kexec_loaded)");
    }
    // SAFETY: NULL segments, nr_segments 17 (> KEXEC_SEGMENT_MAX) and an undefined flag bit:
    // rejected with EINVAL right after the permission checks.
    let r = unsafe {
        libc::syscall(
            libc::SYS_kexec_load,
            0usize,
            17usize,
            std::ptr::null::<u8>(),
            0x8000usize,
        )
    };
    if r >= 0 {
        return Outcome::inconclusive("kexec_load with invalid arguments unexpectedly succeeded");
    }
    match sys::errno() {
        libc::EINVAL => {
            Outcome::exposed("kexec_load passed the permission checks (EINVAL on the bogus flags)")
        }
        libc::ENOSYS if !ctx.state.seccomp_on() => Outcome::na("kernel built without kexec"),
        e => ctx.blocked(e, Some(cap::SYS_BOOT), "kexec_load"),
    }
}
