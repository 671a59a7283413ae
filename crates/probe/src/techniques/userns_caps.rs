//! **E25 userns-regain-caps.** `unshare(CLONE_NEWUSER|CLONE_NEWNS)` and mount a tmpfs: a process
//! with no capabilities regains a full set inside a new user namespace, the entry point of the
//! CVE-2022-0185 (fsconfig) and nf_tables (CVE-2022-25636, CVE-2023-32233) exploits. Stopped by:
//! seccomp (unshare/clone with namespace flags), `user.max_user_namespaces=0`, chroot (a
//! chrooted process cannot create a user namespace), bwrap's `--disable-userns`.

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "userns-caps",
    eid: "E25",
    title: "unshare a user namespace to regain capabilities",
    layers: "S, K (max_user_namespaces)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "userns", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    let mnt = scratch.join("m");
    let _ = std::fs::create_dir(&mnt);
    let r = super::capture(|| {
        // SAFETY: unshare in a single-threaded child.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
            return Err((sys::errno(), "unshare(user|mnt)".into()));
        }
        let caps = crate::ProcState::current().cap_names().len();
        sys::mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE, None)
            .map_err(|e| (e, "make / private".to_string()))?;
        sys::mount("tmpfs", &mnt, "tmpfs", 0, Some("size=64k"))
            .map_err(|e| (e, "mount tmpfs in userns".to_string()))?;
        let _ = sys::umount(&mnt);
        Ok(format!(
            "new user namespace with {caps} capabilities; mounted tmpfs"
        ))
    });
    match r {
        Ok(s) => Outcome::exposed(s),
        Err((libc::ENOSPC, step)) => Outcome::blocked(
            libc::ENOSPC,
            Layer::Sysctl,
            format!("{step}: ENOSPC (user.max_user_namespaces)"),
        ),
        Err((0, step)) => Outcome::inconclusive(step),
        Err((e, step)) => ctx.blocked(e, None, &step),
    }
}
