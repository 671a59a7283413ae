//! **E43 overlay-userns.** Mount an overlay file system inside a fresh user and mount
//! namespace: the precondition of the overlayfs escapes (CVE-2023-0386 copy-up of a setuid file,
//! CVE-2021-3493). In a forked child the probe unshares a user and mount namespace, makes its
//! mounts private, mounts a small tmpfs on its own scratch directory and an overlay of two
//! directories in it, then unmounts; everything lives in the child's namespaces.
//!
//! Stopped by: seccomp (unshare with namespace flags), `user.max_user_namespaces=0`, an LSM, a
//! kernel that refuses overlay in a user namespace (EPERM from the mount), and for a container
//! root without CAP_SETFCAP the kernel's rule that only it may map host root into a new user
//! namespace (Linux 5.12); not applicable when the kernel has no overlay file system.

use crate::{sys, Ctx, Layer, Outcome, Technique};

pub const T: Technique = Technique {
    id: "overlay-userns",
    eid: "E43",
    title: "mount overlayfs in a fresh user namespace",
    layers: "S, K (max_user_namespaces), LSM",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if !super::fs_supported("overlay") {
        return Outcome::na("kernel lacks overlay (not in /proc/filesystems)");
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "overlay", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!(
                "no writable scratch dir: {}",
                crate::errno_name(e)
            ))
        }
    };
    let top = scratch.join("t");
    let _ = std::fs::create_dir(&top);
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let r = super::capture(|| {
        // SAFETY: unshare in a single-threaded forked child.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS) } != 0 {
            return Err((sys::errno(), "unshare(user|mnt)".into()));
        }
        // Map root in the new namespace to our own ids, so files can be created in it.
        sys::write_str("/proc/self/uid_map", &format!("0 {uid} 1"))
            .map_err(|e| (e, "write uid_map".to_string()))?;
        let _ = sys::write_str("/proc/self/setgroups", "deny");
        sys::write_str("/proc/self/gid_map", &format!("0 {gid} 1"))
            .map_err(|e| (e, "write gid_map".to_string()))?;
        sys::mount("none", "/", "", libc::MS_REC | libc::MS_PRIVATE, None)
            .map_err(|e| (e, "make / private".to_string()))?;
        sys::mount("tmpfs", &top, "tmpfs", 0, Some("size=256k,mode=0700"))
            .map_err(|e| (e, "mount tmpfs in userns".to_string()))?;
        for d in ["l", "u", "w", "m"] {
            std::fs::create_dir(top.join(d))
                .map_err(|e| (sys::io_errno(&e), format!("mkdir {d}")))?;
        }
        let opts = format!(
            "lowerdir={},upperdir={},workdir={}",
            top.join("l").display(),
            top.join("u").display(),
            top.join("w").display()
        );
        sys::mount("overlay", top.join("m"), "overlay", 0, Some(&opts))
            .map_err(|e| (e, "mount overlay in userns".to_string()))?;
        let _ = sys::umount(top.join("m"));
        let _ = sys::umount(&top);
        Ok("mounted overlayfs (lower, upper, work) inside a fresh user namespace".to_string())
    });
    match r {
        Ok(s) => Outcome::exposed(s),
        Err((libc::ENOSPC, step)) => Outcome::blocked(
            libc::ENOSPC,
            Layer::Sysctl,
            format!("{step}: ENOSPC (user.max_user_namespaces)"),
        ),
        Err((libc::ENODEV, step)) => Outcome::na(format!("{step}: ENODEV (no overlay)")),
        // Since Linux 5.12 a user namespace whose creator is root may map host root only with
        // CAP_SETFCAP: a container root without it cannot make files in its new namespace.
        Err((libc::EPERM, step)) if step == "write uid_map" && uid == 0 => Outcome::blocked(
            libc::EPERM,
            Layer::Capability,
            format!("{step}: EPERM (mapping host root needs CAP_SETFCAP)"),
        ),
        Err((0, step)) => Outcome::inconclusive(step),
        Err((e, step)) => ctx.blocked(e, None, &step),
    }
}
