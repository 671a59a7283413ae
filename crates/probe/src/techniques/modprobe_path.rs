//! **E09 modprobe_path.** Writes back `kernel.modprobe`. A writer could point it at a host path
//! and make the kernel run it as root by exec'ing a file with unknown magic. Stopped by: ro
//! /proc/sys (M), L, kernel without modules (then the knob does not exist).

use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "modprobe-path",
    eid: "E09",
    title: "write kernel.modprobe (host-root helper)",
    layers: "M, L, K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let p = "/proc/sys/kernel/modprobe";
    match sys::write_back(p) {
        Ok(v) => Outcome::escaped(format!(
            "wrote {p} (current value {:?} written back)",
            v.trim()
        )),
        Err(libc::ENOENT) if std::path::Path::new("/proc/sys/kernel/core_pattern").exists() => {
            Outcome::na("no kernel.modprobe (kernel built without CONFIG_MODULES)")
        }
        Err(libc::ENOENT) => Outcome::blocked(
            libc::ENOENT,
            crate::Layer::MaskedPath,
            "/proc/sys/kernel not visible",
        ),
        Err(e) => ctx.blocked_open(e, p, libc::O_WRONLY, "open kernel.modprobe O_WRONLY"),
    }
}
