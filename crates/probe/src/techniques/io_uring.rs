//! **E33 io_uring.** `io_uring_setup(4)` returning a ring proves io_uring is reachable: a large
//! attack surface whose operations bypass per-syscall seccomp filtering. Stopped by: seccomp (moby
//! removed io_uring_*), sysctl `kernel.io_uring_disabled=2`.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "io-uring",
    eid: "E33",
    title: "io_uring_setup (ops bypass seccomp)",
    layers: "S, K (io_uring_disabled)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let mut params = [0u8; 120]; // struct io_uring_params
                                 // SAFETY: params is a zeroed io_uring_params.
    let r = unsafe { libc::syscall(libc::SYS_io_uring_setup, 4u32, params.as_mut_ptr()) };
    let knob = super::sysctl("/proc/sys/kernel/io_uring_disabled");
    match sys::fd_result(r) {
        Ok(_fd) => Outcome::exposed(format!(
            "io_uring_setup returned a ring fd (io_uring_disabled={})",
            knob.map(|k| k.to_string()).unwrap_or("?".into())
        )),
        Err(libc::ENOSYS) if !ctx.state.seccomp_on() && knob.is_none() => {
            Outcome::na("kernel built without io_uring")
        }
        Err(e) if e == libc::EPERM && !ctx.state.seccomp_on() && knob.unwrap_or(0) > 0 => {
            Outcome::blocked(
                e,
                Layer::Sysctl,
                format!("io_uring_setup: io_uring_disabled={}", knob.unwrap_or(0)),
            )
        }
        Err(e) => ctx.blocked(e, None, "io_uring_setup"),
    }
}
