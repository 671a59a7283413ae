//! **E29 memory exhaustion.** A child touches memory page by page: `--mem-mib` MiB (default
//! 256) when no limit is visible, or 64 MiB more than the visible cgroup limit when there is one
//! (up to 4 GiB, so the probe never takes more than the limit allows). An OOM kill (or ENOMEM)
//! before the end means a memory limit works; finishing means the container can take at least
//! that much from the host. Stopped by: the memory cgroup (G: memory.max plus swap), RLIMIT_AS.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "memory-exhaustion",
    eid: "E29",
    title: "memory exhaustion against memory.max (bounded, in a child)",
    layers: "G (memory), rlimit",
    run,
};

fn mem_limit() -> String {
    for p in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Ok(v) = sys::read_to_string(p) {
            return format!("{}={}", p.rsplit('/').next().unwrap_or(p), v.trim());
        }
    }
    "memory limit not visible".into()
}

/// The visible memory limit in bytes, if finite.
fn mem_limit_bytes() -> Option<u64> {
    for p in [
        "/sys/fs/cgroup/memory.max",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
    ] {
        if let Ok(v) = sys::read_to_string(p) {
            // v2 writes "max"; v1 writes a page-rounded i64::MAX for no limit.
            return v.trim().parse::<u64>().ok().filter(|&b| b < (1 << 62));
        }
    }
    None
}

/// Enforcement is only proven up to this limit; a larger limit is treated as none.
const MAX_PROVEN_LIMIT: u64 = 4 << 30;

fn run(ctx: &Ctx) -> Outcome {
    let mib = match mem_limit_bytes() {
        Some(b) if b <= MAX_PROVEN_LIMIT => (b >> 20) as usize + 64,
        _ => ctx.cfg.mem_mib,
    };
    let end = sys::in_child(|| {
        let len = mib << 20;
        // SAFETY: anonymous private mapping; only this child touches it.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return sys::errno().clamp(1, 254);
        }
        let base = p.cast::<u8>();
        let mut off = 0;
        while off < len {
            // SAFETY: off < len, inside the mapping.
            unsafe { base.add(off).write_volatile(1) };
            off += 4096;
        }
        0
    });
    let limit = mem_limit();
    match end {
        Ok(sys::ChildEnd::Exited(0)) => Outcome::exposed(format!(
            "touched {mib} MiB in a child without hitting a limit ({limit})"
        )),
        Ok(sys::ChildEnd::Signaled(libc::SIGKILL)) => Outcome::blocked_by(
            Layer::CgroupLimit,
            format!("child OOM-killed before {mib} MiB ({limit})"),
        ),
        Ok(sys::ChildEnd::Exited(e)) => Outcome::blocked(
            e,
            Layer::Rlimit,
            format!("mmap {mib} MiB: {} ({limit})", crate::errno_name(e)),
        ),
        Ok(other) => Outcome::inconclusive(format!("child ended {other:?}")),
        Err(e) => Outcome::inconclusive(format!("fork: {}", crate::errno_name(e))),
    }
}
