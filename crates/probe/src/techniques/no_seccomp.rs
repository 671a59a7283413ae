//! **no-seccomp** (layer S, lesson 1 of escape-techniques.md §1.6). Reports whether a seccomp
//! filter is loaded; `runc spec` and `crun spec` emit none. Stopped by: a seccomp profile.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "no-seccomp",
    eid: "-",
    title: "seccomp filter loaded",
    layers: "S",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if ctx.state.seccomp_on() {
        let n = sys::read_to_string("/proc/self/status")
            .unwrap_or_default()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Seccomp_filters:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap_or_else(|| "?".into());
        Outcome::blocked_by(
            Layer::Seccomp,
            format!("Seccomp={} filters={n}", ctx.state.seccomp),
        )
    } else {
        Outcome::exposed("no seccomp filter: every syscall reaches the kernel")
    }
}
