//! **E05 sysrq-trigger.** Opens `/proc/sysrq-trigger` for writing (never writes): a writer can
//! crash, reboot or sync the host. Stopped by: read-only or masked /proc paths (M), L, U.

use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "sysrq-trigger",
    eid: "E05",
    title: "open /proc/sysrq-trigger for writing (reboot/crash the host)",
    layers: "M, L, U",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    match sys::open("/proc/sysrq-trigger", libc::O_WRONLY) {
        Ok(_fd) => Outcome::exposed("/proc/sysrq-trigger open for writing (nothing written)"),
        Err(libc::ENOENT) => {
            Outcome::na("no /proc/sysrq-trigger (kernel without CONFIG_MAGIC_SYSRQ)")
        }
        Err(e) => ctx.blocked_open(
            e,
            "/proc/sysrq-trigger",
            libc::O_WRONLY,
            "open /proc/sysrq-trigger O_WRONLY",
        ),
    }
}
