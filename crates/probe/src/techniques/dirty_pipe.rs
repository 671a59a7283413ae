//! **E40 Dirty Pipe (CVE-2022-0847).** A *version check only*: kernels 5.8 to 5.16.10 (and the
//! unfixed stable branches) let splice write into read-only page cache (a ro bind, an image
//! layer, the runtime binary). Stopped by: kernel patch (K).

use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "dirty-pipe",
    eid: "E40",
    title: "Dirty Pipe kernel version check (page-cache write)",
    layers: "K",
    run,
};

/// Whether a kernel release string is in the vulnerable range (conservative on stable branches).
pub fn vulnerable(release: &str) -> bool {
    let nums: Vec<u32> = release
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let (a, b, c) = (
        nums.first().copied().unwrap_or(0),
        nums.get(1).copied().unwrap_or(0),
        nums.get(2).copied().unwrap_or(0),
    );
    if a != 5 || b < 8 {
        return false;
    }
    match b {
        16 => c < 11,
        15 => c < 25,
        10 => c < 102,
        8..=16 => true,
        _ => false,
    }
}

fn run(_ctx: &Ctx) -> Outcome {
    let rel = crate::sys::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rel = rel.trim();
    if vulnerable(rel) {
        Outcome::exposed(format!(
            "kernel {rel} is in the Dirty Pipe range (version check only)"
        ))
    } else {
        Outcome::na(format!("kernel {rel} is outside the Dirty Pipe range"))
    }
}
