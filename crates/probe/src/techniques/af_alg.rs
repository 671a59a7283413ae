//! **E37 AF_ALG "Copy Fail" (CVE-2026-31431).** Proves `socket(AF_ALG)` is reachable: the
//! kernel crypto API socket whose algif_aead splice path wrote into the page cache of shared
//! files. Stopped by: seccomp (moby's 2026 rule rejects family 38), LSM, kernel patch.

use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "af-alg",
    eid: "E37",
    title: "AF_ALG crypto socket (Copy Fail page-cache write)",
    layers: "S, LSM, K",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    super::socket_probe(ctx, libc::AF_ALG, libc::SOCK_SEQPACKET, 0, None, "AF_ALG")
}
