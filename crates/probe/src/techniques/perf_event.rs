//! **E31 perf_event_open.** Opens a software CPU-clock counter on itself (user space only). An fd
//! proves the perf subsystem (a steady source of kernel bugs and side channels) is reachable.
//! Stopped by: seccomp (moby: CAP_PERFMON only), sysctl `kernel.perf_event_paranoid` ≥ 3.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "perf-event",
    eid: "E31",
    title: "perf_event_open (self, software counter)",
    layers: "S, K (perf_event_paranoid)",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    // struct perf_event_attr, PERF_ATTR_SIZE_VER7 = 128 bytes.
    let mut attr = [0u8; 128];
    attr[0..4].copy_from_slice(&1u32.to_ne_bytes()); // PERF_TYPE_SOFTWARE
    attr[4..8].copy_from_slice(&128u32.to_ne_bytes()); // size
    attr[8..16].copy_from_slice(&0u64.to_ne_bytes()); // PERF_COUNT_SW_CPU_CLOCK
    let flags: u64 = 1 | (1 << 5) | (1 << 6); // disabled, exclude_kernel, exclude_hv
    attr[40..48].copy_from_slice(&flags.to_ne_bytes());
    // SAFETY: attr is a valid perf_event_attr buffer; pid 0 = self, cpu -1, no group.
    let r = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            attr.as_ptr(),
            0,
            -1,
            -1,
            8, /* FD_CLOEXEC */
        )
    };
    let paranoid = super::sysctl("/proc/sys/kernel/perf_event_paranoid");
    match sys::fd_result(r) {
        Ok(_fd) => Outcome::exposed(format!(
            "perf_event_open returned a counter fd (perf_event_paranoid={})",
            paranoid.map(|p| p.to_string()).unwrap_or("?".into())
        )),
        Err(libc::ENOENT) | Err(libc::ENODEV) | Err(libc::EOPNOTSUPP) => {
            Outcome::na("no perf software events in this kernel")
        }
        Err(libc::ENOSYS) if !ctx.state.seccomp_on() => {
            Outcome::na("kernel built without perf events")
        }
        Err(e) => {
            if (e == libc::EACCES || e == libc::EPERM)
                && !ctx.state.seccomp_on()
                && paranoid.unwrap_or(0) > 2
            {
                return Outcome::blocked(
                    e,
                    Layer::Sysctl,
                    format!(
                        "perf_event_open: perf_event_paranoid={}",
                        paranoid.unwrap_or(0)
                    ),
                );
            }
            // Counting our own user-space events needs no capability at paranoid <= 2.
            let needed = if paranoid.unwrap_or(2) > 2 {
                Some(cap::PERFMON)
            } else {
                None
            };
            ctx.blocked(e, needed, "perf_event_open")
        }
    }
}
