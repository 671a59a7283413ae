//! **E03 CVE-2022-0492.** In a new user + mount + cgroup namespace, tries to mount a cgroup v1
//! hierarchy and reach `release_agent` (vulnerable kernels before 5.17 let the namespaced root
//! write it). Stopped by: kernel fix (cgroup v1 is not mountable from a user namespace), seccomp
//! (unshare), a `user.max_user_namespaces=0` sysctl, non-root cgroup placement.

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "userns-release-agent",
    eid: "E03",
    title: "CVE-2022-0492: release_agent from a new user namespace",
    layers: "K, S, U-policy, G",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if !super::fs_supported("cgroup") {
        return Outcome::na("kernel without cgroup v1");
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "cve0492", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    let mnt = scratch.join("cg");
    let _ = std::fs::create_dir(&mnt);
    let r = super::capture(|| {
        // SAFETY: unshare in a single-threaded child.
        if unsafe { libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWCGROUP) }
            != 0
        {
            return Err((sys::errno(), "unshare(user|mnt|cgroup)".into()));
        }
        // SAFETY: getpid has no preconditions.
        let opts = format!("none,name=stockade-0492-{}", unsafe { libc::getpid() });
        sys::mount("cgroup", &mnt, "cgroup", 0, Some(&opts))
            .map_err(|e| (e, "mount cgroup v1 in userns".to_string()))?;
        let ra = mnt.join("release_agent");
        let w = sys::write_back(&ra);
        let _ = sys::umount(&mnt);
        w.map(|_| "release_agent writable from a user namespace".to_string())
            .map_err(|e| (e, "write release_agent".into()))
    });
    match r {
        Ok(s) => Outcome::exposed(s),
        Err((e, step)) if step.starts_with("mount") && (e == libc::EPERM || e == libc::EACCES) => {
            Outcome::blocked(
                e,
                Layer::Kernel,
                format!(
                    "{step}: {} (kernel refuses cgroup v1 in a user namespace)",
                    errno_name(e)
                ),
            )
        }
        Err((libc::ENOSPC, step)) => Outcome::blocked(
            libc::ENOSPC,
            Layer::Sysctl,
            format!("{step}: ENOSPC (max_user_namespaces)"),
        ),
        Err((0, step)) => Outcome::inconclusive(step),
        Err((e, step)) => ctx.blocked(e, None, &step),
    }
}
