//! **mount-proc / mount-sysfs / mount-tmpfs** (E02/E10/E25 prerequisites). Mounts a fresh
//! instance in a private mount namespace (so nothing can propagate) and unmounts it. A fresh
//! procfs or sysfs bypasses the masked and read-only paths of the container's own; the kernel
//! refuses them while overmounts hide parts of the existing instance (`mnt_already_visible`).
//! Stopped by: capabilities (SYS_ADMIN), seccomp, masked paths (M, for proc/sysfs), Landlock.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};

pub const PROC: Technique = Technique {
    id: "mount-proc",
    eid: "-",
    title: "mount a fresh procfs (bypass masks)",
    layers: "C (SYS_ADMIN), S, M, L",
    run: run_proc,
};
pub const SYSFS: Technique = Technique {
    id: "mount-sysfs",
    eid: "-",
    title: "mount a fresh sysfs (bypass ro /sys)",
    layers: "C (SYS_ADMIN), S, M, L",
    run: run_sysfs,
};
pub const TMPFS: Technique = Technique {
    id: "mount-tmpfs",
    eid: "-",
    title: "mount a tmpfs",
    layers: "C (SYS_ADMIN), S, L",
    run: run_tmpfs,
};

fn run_proc(ctx: &Ctx) -> Outcome {
    attempt(ctx, "proc", Some("sys/kernel/core_pattern"))
}
fn run_sysfs(ctx: &Ctx) -> Outcome {
    attempt(ctx, "sysfs", Some("kernel/rcu_expedited"))
}
fn run_tmpfs(ctx: &Ctx) -> Outcome {
    attempt(ctx, "tmpfs", None)
}

fn attempt(ctx: &Ctx, fs: &str, probe_file: Option<&str>) -> Outcome {
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), fs, false) {
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
    let mnt = scratch.join("m");
    let _ = std::fs::create_dir(&mnt);
    let data = if fs == "tmpfs" {
        Some("size=64k")
    } else {
        None
    };
    if let Err(e) = sys::mount(
        fs,
        &mnt,
        fs,
        libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
        data,
    ) {
        if e == libc::EPERM
            && ctx.state.has_cap(cap::SYS_ADMIN)
            && !ctx.state.seccomp_on()
            && fs != "tmpfs"
        {
            return Outcome::blocked(
                e,
                Layer::MaskedPath,
                format!("mount {fs}: EPERM (kernel refuses a fresh instance while masks cover the existing one)"),
            );
        }
        return ctx.blocked_cap(e, cap::SYS_ADMIN, Control::Mount, &format!("mount {fs}"));
    }
    let mut detail = format!("mounted a fresh {fs}");
    if let Some(f) = probe_file {
        let p = mnt.join(f);
        match sys::open(&p, libc::O_WRONLY) {
            Ok(_fd) => detail.push_str(&format!("; its {f} opens for writing (not written)")),
            Err(e) => detail.push_str(&format!("; its {f}: {}", errno_name(e))),
        }
    }
    let _ = sys::umount(&mnt);
    Outcome::exposed(detail)
}
