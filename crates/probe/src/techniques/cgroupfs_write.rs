//! **E34 cgroupfs-rw.** Finds a cgroup hierarchy whose *root* is visible (the container's own
//! cgroupfs, or one it can mount in a private mount namespace) and moves a short-lived child
//! process into the root's `cgroup.procs`: out of every limit the runtime set. The child exits at
//! once, so nothing stays behind. Stopped by: read-only cgroupfs (M), a cgroup namespace (G),
//! capabilities (SYS_ADMIN to mount), Landlock.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::path::{Path, PathBuf};

pub const T: Technique = Technique {
    id: "cgroupfs-write",
    eid: "E34",
    title: "move a process into the root cgroup (leave all limits)",
    layers: "M (ro cgroupfs), G (cgroupns), C, L",
    run,
};

/// Our cgroup path in each hierarchy, keyed by the controller list ("" for v2).
fn own_cgroups() -> Vec<(String, String)> {
    sys::read_to_string("/proc/self/cgroup")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut f = l.splitn(3, ':');
            let _id = f.next()?;
            Some((f.next()?.to_string(), f.next()?.to_string()))
        })
        .collect()
}

fn try_root(mp: &Path) -> Result<String, (i32, String)> {
    let procs = mp.join("cgroup.procs");
    let procs2 = procs.clone();
    super::capture(move || {
        let fd =
            sys::open(&procs2, libc::O_WRONLY).map_err(|e| (e, "open cgroup.procs".to_string()))?;
        sys::write_fd(&fd, b"0").map_err(|e| (e, "write cgroup.procs".to_string()))?;
        let now = sys::read_to_string("/proc/self/cgroup").unwrap_or_default();
        Ok(now
            .lines()
            .map(|l| l.to_string())
            .collect::<Vec<_>>()
            .join(" "))
    })
    .map(|now| format!("moved a child into {} (now: {now})", procs.display()))
}

fn run(ctx: &Ctx) -> Outcome {
    let own = own_cgroups();
    if own.iter().all(|(_, p)| p == "/") {
        return Outcome::blocked_by(
            Layer::CgroupLimit,
            "/proc/self/cgroup shows / everywhere (cgroup namespace)",
        );
    }
    let mounts: Vec<PathBuf> = sys::mountinfo()
        .into_iter()
        .filter(|m| (m.fstype == "cgroup" || m.fstype == "cgroup2") && m.root == "/")
        .map(|m| PathBuf::from(m.mount_point))
        .collect();
    let mut last: Option<(i32, String)> = None;
    for mp in &mounts {
        match try_root(mp) {
            Ok(ev) => return Outcome::escaped(ev),
            Err(e) => last = Some(e),
        }
    }
    if mounts.is_empty() {
        // No hierarchy root visible: try mounting cgroup2 ourselves.
        let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "cg2", false) {
            Ok(s) => s,
            Err(e) => {
                return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
            }
        };
        if let Err(e) = sys::private_mount_ns() {
            return ctx.blocked(
                e,
                Some(cap::SYS_ADMIN),
                "no cgroup hierarchy root visible; unshare(mount ns)",
            );
        }
        let mp = scratch.join("cg2");
        let _ = std::fs::create_dir(&mp);
        if let Err(e) = sys::mount("cgroup2", &mp, "cgroup2", 0, None) {
            return ctx.blocked(
                e,
                Some(cap::SYS_ADMIN),
                "no cgroup hierarchy root visible; mount cgroup2",
            );
        }
        let r = try_root(&mp);
        let _ = sys::umount(&mp);
        match r {
            Ok(ev) => return Outcome::escaped(format!("mounted cgroup2 and {ev}")),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some((e, step)) if e != 0 => {
            let mut o = ctx.blocked(e, None, &step);
            if e == libc::EROFS {
                o = Outcome::blocked(e, Layer::ReadOnlyMount, format!("{step}: EROFS"));
            }
            o
        }
        Some((_, step)) => Outcome::inconclusive(step),
        None => Outcome::blocked_by(Layer::CgroupLimit, "no hierarchy root visible"),
    }
}
