//! **E07 dev-mem.** Opens `/dev/mem` (or a fresh 1:1 node made with mknod in scratch space) for
//! reading: physical memory of the host. Stopped by: the device allow-list (D), capabilities
//! (MKNOD, SYS_RAWIO), kernel (STRICT_DEVMEM, lockdown, no DEVMEM).

use crate::outcome::Layer;
use crate::state::cap;
use crate::{sys, Control, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "dev-mem",
    eid: "E07",
    title: "open /dev/mem (host physical memory)",
    layers: "D, C (MKNOD, SYS_RAWIO), K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let attempt = |p: &std::path::Path, made: bool| -> Outcome {
        match sys::open(p, libc::O_RDONLY) {
            Ok(_fd) => Outcome::exposed(format!(
                "opened {} (char 1:1) for reading{}",
                p.display(),
                if made { ", node made with mknod" } else { "" }
            )),
            Err(libc::ENXIO) | Err(libc::ENODEV) => Outcome::na("kernel has no /dev/mem driver"),
            Err(e @ libc::EPERM) if ctx.state.has_cap(cap::SYS_RAWIO) => {
                Outcome::blocked(e, Layer::DeviceCgroup, "open /dev/mem: EPERM")
            }
            Err(e) => ctx.blocked(e, Some(cap::SYS_RAWIO), "open /dev/mem"),
        }
    };
    if sys::lstat("/dev/mem").is_ok() {
        return attempt(std::path::Path::new("/dev/mem"), false);
    }
    let scratch = match sys::Scratch::new(ctx.cfg.scratch.as_deref(), "mem", true) {
        Ok(s) => s,
        Err(e) => {
            return Outcome::inconclusive(format!(
                "no writable scratch dir: {}",
                crate::errno_name(e)
            ))
        }
    };
    let node = scratch.join("mem");
    if let Err(e) = sys::mknod(&node, libc::S_IFCHR | 0o600, 1, 1) {
        return ctx.blocked_cap(e, cap::MKNOD, Control::Mknod, "no /dev/mem; mknod c 1 1");
    }
    attempt(&node, true)
}
