//! **E14 hostpid-setns.** `setns()` into the mount namespace of the target process (the
//! caller's host sleeper) and read the host canary by its host path — `nsenter -t PID -m`.
//! Runs in the technique's own forked process, which exits afterwards. Stopped by: a separate
//! pid namespace, capabilities (SYS_ADMIN, SYS_PTRACE to open the ns file), seccomp, the auditor.

use crate::state::cap;
use crate::{errno_name, sys, Ctx, Outcome, Technique};
use std::os::fd::AsRawFd;

pub const T: Technique = Technique {
    id: "setns",
    eid: "E14",
    title: "setns into the host mount namespace",
    layers: "pid-ns, C (SYS_ADMIN), S, A",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let pid = match super::target_pid(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let nsp = format!("/proc/{pid}/ns/mnt");
    let fd = match sys::open(&nsp, libc::O_RDONLY) {
        Ok(fd) => fd,
        Err(e) => return ctx.blocked(e, Some(cap::SYS_PTRACE), &format!("open {nsp}")),
    };
    let same = match (
        std::fs::read_link(&nsp),
        std::fs::read_link("/proc/self/ns/mnt"),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        return Outcome::na(format!("pid {pid} shares our mount namespace"));
    }
    // SAFETY: the technique process is single-threaded; CLONE_NEWNS with an ns fd.
    if unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNS) } != 0 {
        return ctx.blocked(sys::errno(), Some(cap::SYS_ADMIN), "setns(mnt)");
    }
    let _ = std::env::set_current_dir("/");
    let Some(rel) = super::host_canary_rel(ctx) else {
        return Outcome::escaped(format!(
            "joined the mount namespace of pid {pid}; its / holds: {}",
            sys::list_dir("/", 8)
        ));
    };
    match sys::read_head(format!("/{rel}"), 4096) {
        Ok(b) => match super::host_canary::check_canary(ctx, &b) {
            Ok(ev) => Outcome::escaped(format!(
                "setns into mnt ns of pid {pid}, read /{rel}: {ev:?}"
            )),
            Err(why) => Outcome::exposed(format!("setns ok, /{rel}: {why}")),
        },
        Err(e) => Outcome::exposed(format!(
            "joined the mount namespace of pid {pid}, but /{rel}: {}",
            errno_name(e)
        )),
    }
}
