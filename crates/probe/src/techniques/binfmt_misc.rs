//! **E10 binfmt_misc.** Uses the visible `/proc/sys/fs/binfmt_misc` or mounts binfmt_misc in a
//! private mount namespace (from the initial user namespace that is the *host's* instance), then
//! registers a handler for a magic no real file has (`\xde\xad\xbe\xefSTKD`, interpreter
//! `/nonexistent`) and removes it at once. A registered handler runs for every host exec of that
//! format. Stopped by: capabilities (SYS_ADMIN for the mount), seccomp, masked/ro /proc (M),
//! Landlock, a user namespace (per-userns instances since 6.7).

use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};
use std::path::PathBuf;

pub const T: Technique = Technique {
    id: "binfmt-misc",
    eid: "E10",
    title: "register a binfmt_misc handler (host exec hijack)",
    layers: "C (SYS_ADMIN), S, M, L, U",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if !super::fs_supported("binfmt_misc") {
        return Outcome::na("kernel without binfmt_misc");
    }
    let mut _scratch = None;
    let mut dir = PathBuf::from("/proc/sys/fs/binfmt_misc");
    if !dir.join("register").exists() {
        let s = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "binfmt", false) {
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
        dir = s.join("b");
        let _ = std::fs::create_dir(&dir);
        if let Err(e) = sys::mount("binfmt_misc", &dir, "binfmt_misc", 0, None) {
            return ctx.blocked_cap(e, cap::SYS_ADMIN, Control::Mount, "mount binfmt_misc");
        }
        _scratch = Some(s);
    }
    // SAFETY: getpid has no preconditions.
    let name = format!("stockade-probe-{}", unsafe { libc::getpid() });
    let rule = format!(":{name}:M::\\xde\\xad\\xbe\\xefSTKD::/nonexistent/stockade-probe:");
    if let Err(e) = sys::write_str(dir.join("register"), &rule) {
        let _ = sys::umount(&dir);
        return ctx.blocked(e, Some(cap::SYS_ADMIN), "write binfmt_misc/register");
    }
    let entry = dir.join(&name);
    let removed = sys::write_str(&entry, "-1").is_ok() && !entry.exists();
    let _ = sys::umount(&dir);
    let scope = if ctx.state.in_user_ns {
        "this user namespace's binfmt_misc instance"
    } else {
        "the host's binfmt_misc instance"
    };
    let msg = format!(
        "registered handler {name} in {scope}; removed again: {}",
        if removed {
            "yes"
        } else {
            "NO (remove it by hand)"
        }
    );
    if ctx.state.in_user_ns {
        Outcome::exposed(msg)
    } else {
        Outcome::escaped(msg)
    }
}
