//! **E32 userfaultfd.** `userfaultfd(UFFD_USER_MODE_ONLY)` works unprivileged and lets an exploit
//! stall the kernel at a chosen page fault (race widening). Stopped by: seccomp (not in moby's
//! allow list), sysctl `vm.unprivileged_userfaultfd=0` (for kernel-mode faults).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "userfaultfd",
    eid: "E32",
    title: "userfaultfd (race-widening exploit helper)",
    layers: "S, K (vm.unprivileged_userfaultfd)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let mut r = 0;
    for flags in [
        libc::O_CLOEXEC | 1, /* UFFD_USER_MODE_ONLY */
        libc::O_CLOEXEC,
    ] {
        // SAFETY: userfaultfd takes only flags.
        let ret = unsafe { libc::syscall(libc::SYS_userfaultfd, flags) };
        match sys::fd_result(ret) {
            Ok(_fd) => {
                return Outcome::exposed(format!(
                    "userfaultfd({}) returned an fd",
                    if flags & 1 != 0 {
                        "UFFD_USER_MODE_ONLY"
                    } else {
                        "0"
                    }
                ))
            }
            Err(e) => r = e,
        }
        if r != libc::EINVAL {
            break;
        }
    }
    match r {
        libc::ENOSYS if !ctx.state.seccomp_on() => Outcome::na("kernel built without userfaultfd"),
        libc::EPERM if !ctx.state.seccomp_on() => Outcome::blocked(
            r,
            Layer::Sysctl,
            "userfaultfd: EPERM (vm.unprivileged_userfaultfd)",
        ),
        e => ctx.blocked(e, None, "userfaultfd"),
    }
}
