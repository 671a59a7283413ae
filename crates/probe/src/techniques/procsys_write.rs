//! **procsys-write** (E04/E09 family, layer M). Writes back the current value of a host-global,
//! non-namespaced sysctl (`vm.overcommit_ratio`, `kernel.printk_ratelimit`, `vm.swappiness`).
//! Success proves the container can retune the host kernel. Stopped by: read-only /proc/sys (M),
//! a user namespace (U), Landlock (L).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "procsys-write",
    eid: "E04",
    title: "write a host-global /proc/sys knob (value written back)",
    layers: "M (ro /proc/sys), U, L",
    run,
};

const CANDIDATES: [&str; 3] = [
    "/proc/sys/vm/overcommit_ratio",
    "/proc/sys/kernel/printk_ratelimit",
    "/proc/sys/vm/swappiness",
];

fn run(ctx: &Ctx) -> Outcome {
    let last = match sys::write_back_first(&CANDIDATES) {
        Ok((p, v)) => {
            return Outcome::escaped(format!(
                "wrote host-global {p} (current value {} written back)",
                v.trim()
            ))
        }
        Err(e) => e,
    };
    if last == libc::ENOENT {
        return Outcome::blocked(
            libc::ENOENT,
            Layer::MaskedPath,
            "no candidate sysctl visible",
        );
    }
    let path = sys::first_existing(&CANDIDATES).unwrap_or(CANDIDATES[0]);
    ctx.blocked_open(last, path, libc::O_WRONLY, &format!("open {path} O_WRONLY"))
}
