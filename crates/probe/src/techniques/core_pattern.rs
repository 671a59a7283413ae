//! **E04 core-pattern-pipe.** Writes `kernel.core_pattern` — with its *current* value, so nothing
//! changes. A successful write proves the container could install `|/host/path/payload`, which
//! the kernel runs as host root on the next crash anywhere. Needs a writable /proc/sys and euid =
//! host root. Stopped by: masked/read-only /proc/sys (M), a user namespace (U), Landlock (L).

use crate::outcome::Layer;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "core-pattern",
    eid: "E04",
    title: "write kernel.core_pattern (host-root pipe handler)",
    layers: "M (ro /proc/sys), U, L, A",
    run,
};

pub const PATH: &str = "/proc/sys/kernel/core_pattern";

fn run(ctx: &Ctx) -> Outcome {
    match sys::write_back(PATH) {
        Ok(v) => Outcome::escaped(format!(
            "wrote {PATH} (current value {:?} written back): a '|/host/payload' pattern would run as host root",
            v.trim()
        )),
        Err(libc::ENOENT) => {
            if std::path::Path::new("/proc/sys/kernel").exists() {
                Outcome::blocked(libc::ENOENT, Layer::MaskedPath, "core_pattern not visible")
            } else {
                Outcome::blocked(libc::ENOENT, Layer::MaskedPath, "/proc/sys/kernel not visible")
            }
        }
        Err(e) => ctx.blocked_open(e, PATH, libc::O_WRONLY, "open core_pattern O_WRONLY"),
    }
}
