//! **E45 capability sets beyond CapEff (runc CVE-2022-29162, and its siblings in containerd
//! CVE-2022-24769, podman/buildah CVE-2022-27649/27651, moby CVE-2022-24769).** Reads the
//! process's inheritable and ambient sets from `/proc/self/status`. An inheritable set
//! lets a program carrying file-inheritable capabilities gain them at exec, even when run by a
//! non-root user of the container; an ambient set keeps its capabilities across the exec of any
//! program. Neither shows in CapEff, which is all `dangerous-caps` looks at. Only capabilities
//! beyond runc's default three (AUDIT_WRITE, KILL, NET_BIND_SERVICE, which `runc spec` and
//! `stockade spec` put in the ambient set) count, as in the catalogue's rules.
//!
//! Stopped by: a runtime that leaves both sets empty (runc ≥ 1.1.2, stockade); the auditor and
//! the runtime's gate (SKD-ESC-070). Not applicable on a kernel without ambient capabilities
//! (before 4.3: no `CapAmb` line).

use crate::state::cap;
use crate::{sys, Ctx, Layer, Outcome, Technique};

pub const T: Technique = Technique {
    id: "inheritable-caps",
    eid: "E45",
    title: "non-empty inheritable or ambient capability set (CVE-2022-29162)",
    layers: "C, A",
    run,
};

/// AUDIT_WRITE (29), KILL (5), NET_BIND_SERVICE (10): runc's default set.
const DEFAULT_CAPS: u64 = (1 << 29) | (1 << 5) | (1 << 10);

fn names(mask: u64) -> String {
    let v: Vec<&str> = (0..64u32)
        .filter(|c| mask & (1u64 << c) != 0)
        .map(cap::name)
        .collect();
    v.join(",")
}

/// The outcome for a `/proc/<pid>/status` text.
pub fn judge(status: &str) -> Outcome {
    let field = |k: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
    };
    let Some(inh) = field("CapInh:") else {
        return Outcome::inconclusive("no CapInh line in /proc/self/status");
    };
    let Some(amb) = field("CapAmb:") else {
        return Outcome::na("kernel without ambient capabilities (no CapAmb line, Linux < 4.3)");
    };
    // runc's default three (AUDIT_WRITE, KILL, NET_BIND_SERVICE), which `runc spec` and
    // `stockade spec` put in the ambient (and stockade's in the inheritable) set too: what a
    // container's root holds anyway, and no step of an escape. Anything beyond them is.
    let (i, a) = (inh & !DEFAULT_CAPS, amb & !DEFAULT_CAPS);
    match (i, a) {
        (0, 0) if inh | amb == 0 => {
            Outcome::blocked_by(Layer::Capability, "CapInh=0, CapAmb=0")
        }
        (0, 0) => Outcome::blocked_by(
            Layer::Capability,
            format!(
                "only runc's default capabilities: inheritable {}, ambient {}",
                names(inh),
                names(amb)
            ),
        ),
        (i, 0) => Outcome::exposed(format!(
            "inheritable set {}: a program with these file-inheritable capabilities gains them at exec, whoever runs it",
            names(i)
        )),
        (i, a) => Outcome::exposed(format!(
            "ambient set {} (inheritable {}): every program executed keeps them, also by a non-root user",
            names(a),
            names(i)
        )),
    }
}

fn run(_ctx: &Ctx) -> Outcome {
    match sys::read_to_string("/proc/self/status") {
        Ok(s) => judge(&s),
        Err(e) => Outcome::inconclusive(format!("/proc/self/status: {}", crate::errno_name(e))),
    }
}
