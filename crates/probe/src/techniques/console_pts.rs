//! **E21 CVE-2025-52565 / E23 shapes.** Checks the console and pty plumbing: `/dev` is a real
//! directory (not a symlink to a host dir, CVE-2026-41579), `/dev/pts` is a devpts instance,
//! `/dev/ptmx` is `pts/ptmx` or char 5:2, and `/dev/console` (if present) is a pty (major
//! 136–143) or 5:1, not a bind of some other file. A runtime that bind-mounts `/dev/pts/$n` by
//! path can be tricked into mounting an attacker-chosen target as the console. Stopped by: safe
//! path resolution and fd-based console mounts (R).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "console-pts",
    eid: "E21",
    title: "/dev, /dev/pts, /dev/ptmx, /dev/console are what they claim",
    layers: "R",
    run,
};

const DEVPTS_MAGIC: i64 = 0x1cd1;

fn run(_ctx: &Ctx) -> Outcome {
    let mut bad = Vec::new();
    let mut ok = Vec::new();
    match sys::lstat("/dev") {
        Ok(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => ok.push("/dev dir"),
        Ok(_) => bad.push("/dev is not a directory (symlink?)".to_string()),
        Err(_) => bad.push("/dev missing".to_string()),
    }
    if sys::lstat("/dev/pts").is_ok() {
        let magic = sys::fs_magic("/dev/pts");
        if magic == DEVPTS_MAGIC {
            ok.push("/dev/pts devpts");
        } else {
            bad.push(format!("/dev/pts is not devpts (f_type {magic:#x})"));
        }
    }
    if let Ok(st) = sys::lstat("/dev/ptmx") {
        let fmt = st.st_mode & libc::S_IFMT;
        let good = if fmt == libc::S_IFLNK {
            std::fs::read_link("/dev/ptmx")
                .map(|t| t.as_os_str() == "pts/ptmx" || t.as_os_str() == "/dev/pts/ptmx")
                .unwrap_or(false)
        } else {
            fmt == libc::S_IFCHR && st.st_rdev == libc::makedev(5, 2)
        };
        if good {
            ok.push("/dev/ptmx");
        } else {
            bad.push("/dev/ptmx is neither pts/ptmx nor char 5:2".to_string());
        }
    }
    if let Ok(st) = sys::lstat("/dev/console") {
        let fmt = st.st_mode & libc::S_IFMT;
        let maj = libc::major(st.st_rdev);
        if fmt == libc::S_IFCHR && ((136..=143).contains(&maj) || st.st_rdev == libc::makedev(5, 1))
        {
            ok.push("/dev/console pty");
        } else if fmt == libc::S_IFREG && st.st_size == 0 {
            // runc creates an empty file as the bind target; only the bind makes it a console.
            ok.push("/dev/console placeholder");
        } else {
            bad.push(format!(
                "/dev/console is mode {:o} rdev {}:{}",
                st.st_mode,
                maj,
                libc::minor(st.st_rdev)
            ));
        }
    }
    if bad.is_empty() {
        Outcome::blocked_by(Layer::SafePath, format!("sane: {}", ok.join(", ")))
    } else {
        Outcome::exposed(bad.join("; "))
    }
}
