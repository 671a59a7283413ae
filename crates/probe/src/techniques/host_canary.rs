//! **E12 hostpath-root.** Reads the caller's canary at `--canary PATH` (a host file the caller
//! placed; visible only if a host path is bind-mounted in). Stopped by: the auditor (no sensitive
//! hostPath/binds, A), Landlock, safe path resolution.

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "host-canary",
    eid: "E12",
    title: "host canary readable through a host path mount",
    layers: "A, L, R",
    run,
};

/// Evidence from canary bytes; `Err` text when the expected content is not there.
pub fn check_canary(ctx: &Ctx, bytes: &[u8]) -> Result<String, String> {
    let text = String::from_utf8_lossy(bytes);
    if let Some(want) = &ctx.cfg.canary_content {
        if !text.contains(want.as_str()) {
            return Err(format!(
                "read {} bytes but not the expected canary text",
                bytes.len()
            ));
        }
    }
    Ok(sys::printable(bytes, 60))
}

fn run(ctx: &Ctx) -> Outcome {
    let Some(p) = &ctx.cfg.canary else {
        return Outcome::na("no target (pass --canary PATH)");
    };
    match sys::read_head(p, 4096) {
        Ok(b) => match check_canary(ctx, &b) {
            Ok(ev) => Outcome::escaped(format!("read host canary {}: {ev:?}", p.display())),
            Err(why) => Outcome::exposed(format!("{}: {why}", p.display())),
        },
        Err(libc::ENOENT) => Outcome::blocked(
            libc::ENOENT,
            Layer::MountNamespace,
            format!("{} not visible", p.display()),
        ),
        Err(e) => ctx.blocked_open(e, &p.to_string_lossy(), libc::O_RDONLY, "read canary"),
    }
}
