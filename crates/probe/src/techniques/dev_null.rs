//! **E20 CVE-2025-31133 shape.** Verifies the container's `/dev/null` is the real char 1:3 device
//! (not a symlink, not a regular file, not a bind of something else), by path and by fd. A runtime
//! that masks paths by bind-mounting an attacker-controlled `/dev/null` exposes the target
//! instead (e.g. `/dev/null -> /proc/sys/kernel/core_pattern`). Stopped by: safe path resolution
//! with fd verification (R).

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;

pub const T: Technique = Technique {
    id: "dev-null",
    eid: "E20",
    title: "/dev/null is the real char 1:3 (mask source)",
    layers: "R, M",
    run,
};

fn run(_ctx: &Ctx) -> Outcome {
    let st = match sys::lstat("/dev/null") {
        Ok(s) => s,
        Err(e) => return Outcome::exposed(format!("/dev/null missing ({})", errno_name(e))),
    };
    let fmt = st.st_mode & libc::S_IFMT;
    if fmt == libc::S_IFLNK {
        let t = std::fs::read_link("/dev/null")
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        return Outcome::exposed(format!(
            "/dev/null is a symlink to {t}: masks bound from it expose the target"
        ));
    }
    if fmt != libc::S_IFCHR || st.st_rdev != libc::makedev(1, 3) {
        return Outcome::exposed(format!(
            "/dev/null is not char 1:3 (mode {:o}, rdev {}:{})",
            st.st_mode,
            libc::major(st.st_rdev),
            libc::minor(st.st_rdev)
        ));
    }
    match sys::open("/dev/null", libc::O_PATH | libc::O_NOFOLLOW) {
        Ok(fd) => match sys::fstat(fd.as_raw_fd()) {
            Ok(f)
                if f.st_rdev == libc::makedev(1, 3)
                    && f.st_mode & libc::S_IFMT == libc::S_IFCHR =>
            {
                Outcome::blocked_by(Layer::SafePath, "/dev/null is char 1:3 by path and by fd")
            }
            Ok(_) => Outcome::exposed("/dev/null changed between lstat and open"),
            Err(e) => Outcome::inconclusive(format!("fstat /dev/null: {}", errno_name(e))),
        },
        Err(e) => Outcome::inconclusive(format!("open /dev/null O_PATH: {}", errno_name(e))),
    }
}
