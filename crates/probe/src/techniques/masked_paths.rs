//! **masked-paths** (layer M; E06/E20). Checks Docker's masked /proc and /sys paths: each present
//! path must be the real `/dev/null` (files) or an empty tmpfs (directories). An unmasked one
//! leaks host state; one bound from anything but char 1:3 is the CVE-2025-31133 outcome.
//! Stopped by: masked paths (M) with a verified `/dev/null` source (R).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "masked-paths",
    eid: "E20",
    title: "Docker's masked /proc and /sys paths really masked",
    layers: "M, R",
    run,
};

pub const MASKED: [&str; 12] = [
    "/proc/acpi",
    "/proc/asound",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];

const TMPFS_MAGIC: i64 = 0x0102_1994;

fn run(_ctx: &Ctx) -> Outcome {
    let mut open = Vec::new();
    let mut bad_src = Vec::new();
    let mut masked = 0;
    for p in MASKED {
        let Ok(st) = sys::stat(p) else { continue };
        let fmt = st.st_mode & libc::S_IFMT;
        if fmt == libc::S_IFDIR {
            let magic = sys::fs_magic(p);
            let empty = std::fs::read_dir(p)
                .map(|mut d| d.next().is_none())
                .unwrap_or(true);
            if magic == TMPFS_MAGIC && empty {
                masked += 1;
            } else {
                open.push(p);
            }
        } else if fmt == libc::S_IFCHR {
            if st.st_rdev == libc::makedev(1, 3) {
                masked += 1;
            } else {
                bad_src.push(format!(
                    "{p} is char {}:{}",
                    libc::major(st.st_rdev),
                    libc::minor(st.st_rdev)
                ));
            }
        } else {
            open.push(p);
        }
    }
    if !bad_src.is_empty() {
        return Outcome::exposed(format!(
            "masked from a wrong source: {}",
            bad_src.join(", ")
        ));
    }
    if !open.is_empty() {
        return Outcome::exposed(format!("unmasked: {} ({masked} masked)", open.join(", ")));
    }
    Outcome::blocked_by(Layer::MaskedPath, format!("{masked} present paths masked"))
}
