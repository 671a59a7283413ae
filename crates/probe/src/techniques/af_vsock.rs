//! **E38 AF_VSOCK.** Proves `socket(AF_VSOCK)` is reachable: in a VM guest that talks to host
//! services by CID, which a network namespace does not isolate. Stopped by: seccomp (moby blocks
//! family 40).

use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "af-vsock",
    eid: "E38",
    title: "AF_VSOCK socket (host services of a VM guest)",
    layers: "S",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    super::socket_probe(ctx, libc::AF_VSOCK, libc::SOCK_STREAM, 0, None, "AF_VSOCK")
}
