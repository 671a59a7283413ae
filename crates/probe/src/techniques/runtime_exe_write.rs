//! **E17 CVE-2019-5736 shape.** Looks for runtime processes visible from inside (`--runtime-pid`
//! and any process named runc/crun/youki/stockade/conmon/containerd-shim) and opens their
//! `/proc/<pid>/exe` for writing (never writes). Success = the host runtime binary is writable
//! from the container; ETXTBSY = it is the host file, writable as soon as it exits (the 2019
//! attack holds an O_PATH fd and waits). A sealed memfd or read-only copy blocks it. Stopped by:
//! `/proc/self/exe` protection (X), a user namespace (U), a separate pid namespace.

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "runtime-exe-write",
    eid: "E17",
    title: "open the runtime's binary for writing via /proc/PID/exe",
    layers: "X, U, pid-ns",
    run,
};

const NAMES: [&str; 7] = [
    "runc",
    "crun",
    "youki",
    "stockade",
    "conmon",
    "containerd-shim",
    "runsc",
];

fn ppid_of(pid: i32) -> Option<i32> {
    let stat = sys::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may contain spaces; fields after the last ')' are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// `--runtime-pid`, or else the nearest ancestor that runs a different binary than ours: with a
/// shared pid namespace that is the runtime (or shim) that started the container. Only our own
/// ancestry is examined, never unrelated host processes.
fn candidates(ctx: &Ctx) -> Vec<(i32, String)> {
    if let Some(p) = ctx.cfg.runtime_pid {
        return vec![(p, "--runtime-pid".to_string())];
    }
    let own = sys::stat("/proc/self/exe").map(|s| sys::dev_ino(&s)).ok();
    // SAFETY: getppid has no preconditions.
    let mut pid = unsafe { libc::getppid() };
    for _ in 0..16 {
        if pid <= 1 {
            break;
        }
        let exe = sys::stat(format!("/proc/{pid}/exe"))
            .map(|s| sys::dev_ino(&s))
            .ok();
        if exe.is_some() && exe != own {
            let comm = sys::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let comm = comm.trim().to_string();
            if NAMES.iter().any(|n| comm.starts_with(n)) {
                return vec![(pid, comm)];
            }
            break;
        }
        match ppid_of(pid) {
            Some(p) => pid = p,
            None => break,
        }
    }
    Vec::new()
}

fn run(ctx: &Ctx) -> Outcome {
    let cands = candidates(ctx);
    if cands.is_empty() {
        return Outcome::na("no runtime process visible from inside (pass --runtime-pid)");
    }
    let mut notes = Vec::new();
    let mut first_err = None;
    for (pid, comm) in &cands {
        let exe = format!("/proc/{pid}/exe");
        let link = std::fs::read_link(&exe)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "?".into());
        match sys::open(&exe, libc::O_WRONLY) {
            Ok(_fd) => {
                return Outcome::escaped(format!(
                    "opened {exe} ({comm} -> {link}) for writing: host runtime binary writable (not written)"
                ))
            }
            Err(libc::ETXTBSY) if link.contains("memfd:") => {
                notes.push(format!("{comm}: sealed memfd copy"));
                first_err.get_or_insert((libc::ETXTBSY, Layer::ExeProtection));
            }
            Err(libc::ETXTBSY) => {
                return Outcome::exposed(format!(
                    "{exe} ({comm} -> {link}) is the host binary, busy now (ETXTBSY): writable once it exits"
                ))
            }
            Err(e) => {
                notes.push(format!("{comm} ({link}): {}", errno_name(e)));
                let l = if e == libc::EROFS {
                    Layer::ExeProtection
                } else {
                    ctx.state.attribute(e, None)
                };
                first_err.get_or_insert((e, l));
            }
        }
    }
    let (e, l) = first_err.unwrap_or((libc::EACCES, Layer::Unknown));
    Outcome::blocked(e, l, notes.join("; "))
}
