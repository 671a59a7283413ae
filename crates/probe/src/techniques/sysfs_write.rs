//! **E08 sysfs-rw / uevent_helper.** Writes back the current value of a host-global sysfs
//! attribute (`/sys/kernel/uevent_helper` when present — a host path there runs as root on every
//! uevent — else `/sys/kernel/rcu_expedited`). Stopped by: read-only /sys (M), Landlock, U.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "sysfs-write",
    eid: "E08",
    title: "write host-global /sys attribute (uevent_helper)",
    layers: "M (ro /sys), L, U",
    run,
};

const CANDIDATES: [&str; 3] = [
    "/sys/kernel/uevent_helper",
    "/sys/kernel/rcu_expedited",
    "/sys/kernel/rcu_normal",
];

fn run(ctx: &Ctx) -> Outcome {
    if !std::path::Path::new("/sys/kernel").exists() {
        return Outcome::blocked(
            libc::ENOENT,
            Layer::MountNamespace,
            "/sys/kernel not mounted",
        );
    }
    let last = match sys::write_back_first(&CANDIDATES) {
        Ok((p, v)) => {
            return Outcome::escaped(format!(
                "wrote host-global {p} (current value {:?} written back)",
                v.trim()
            ))
        }
        Err(e) => e,
    };
    if last == libc::ENOENT {
        return Outcome::na("no candidate sysfs attribute on this kernel");
    }
    let path = sys::first_existing(&CANDIDATES).unwrap_or(CANDIDATES[0]);
    ctx.blocked_open(last, path, libc::O_WRONLY, &format!("open {path} O_WRONLY"))
}
