//! **E22 CVE-2025-52881 shape.** A runtime that writes to `/proc` paths (sysctls, LSM labels,
//! `/proc/self/attr/*`) by path can be redirected by a racing mount onto a different procfs file
//! or onto a non-procfs file. From inside, this checks the result: `/proc` must be a procfs
//! instance, and every mount below it must be a mask (`/dev/null`, an empty tmpfs) or procfs
//! itself (a read-only rebind), never some other file system spliced into `/proc`. Also checks
//! `/proc/self/attr/current` and `/proc/sys/kernel` resolve to procfs. Stopped by: safe procfs
//! access in the runtime (R: libpathrs procfs API, a private `fsopen("proc")`), Landlock, U.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "procfs-sanity",
    eid: "E22",
    title: "/proc is procfs with only masks and rebinds mounted below it",
    layers: "R, L, U",
    run,
};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;
const TMPFS_MAGIC: i64 = 0x0102_1994;

fn run(_ctx: &Ctx) -> Outcome {
    let magic = sys::fs_magic("/proc");
    if magic != PROC_SUPER_MAGIC {
        return Outcome::exposed(format!("/proc is not procfs (f_type {magic:#x})"));
    }
    let mut odd = Vec::new();
    let mut masks = 0;
    for m in sys::mountinfo() {
        if !m.mount_point.starts_with("/proc/") {
            continue;
        }
        let null = sys::stat(&m.mount_point)
            .map(|s| s.st_mode & libc::S_IFMT == libc::S_IFCHR && s.st_rdev == libc::makedev(1, 3))
            .unwrap_or(false);
        let is_mask = null
            || m.fstype == "proc"
            || (m.fstype == "tmpfs" && m.options.split(',').any(|o| o == "ro"));
        if is_mask {
            masks += 1;
        } else {
            odd.push(format!(
                "{} ({} from {})",
                m.mount_point, m.fstype, m.source
            ));
        }
    }
    for p in ["/proc/self/attr/current", "/proc/sys/kernel"] {
        let f = sys::fs_magic(p);
        if f != 0 && f != PROC_SUPER_MAGIC && f != TMPFS_MAGIC {
            odd.push(format!("{p} resolves to f_type {f:#x}"));
        }
    }
    if odd.is_empty() {
        Outcome::blocked_by(
            Layer::SafePath,
            format!("/proc is procfs; {masks} mounts below it are masks or rebinds"),
        )
    } else {
        Outcome::exposed(format!("foreign mounts under /proc: {}", odd.join(", ")))
    }
}
