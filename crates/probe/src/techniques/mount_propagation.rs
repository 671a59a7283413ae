//! **E36 mount-propagation.** Looks for `shared:` peer groups in `/proc/self/mountinfo`: a mount
//! made below a shared mount inside the container appears on the host (K8s `Bidirectional`).
//! Stopped by: rslave/rprivate propagation (Pr), the auditor (A).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "mount-propagation",
    eid: "E36",
    title: "shared mount propagation to the host",
    layers: "Pr, A",
    run,
};

fn run(_ctx: &Ctx) -> Outcome {
    let mi = sys::mountinfo();
    let shared: Vec<String> = mi
        .iter()
        .filter(|m| m.optional.iter().any(|o| o.starts_with("shared:")))
        .map(|m| m.mount_point.clone())
        .collect();
    let slaves = mi
        .iter()
        .filter(|m| m.optional.iter().any(|o| o.starts_with("master:")))
        .count();
    if shared.is_empty() {
        Outcome::blocked_by(
            Layer::Propagation,
            format!("no shared mounts ({} mounts, {slaves} slave)", mi.len()),
        )
    } else {
        let n = shared.len();
        let mut s = shared;
        s.truncate(6);
        Outcome::exposed(format!("{n} shared mount(s): {}", s.join(", ")))
    }
}
