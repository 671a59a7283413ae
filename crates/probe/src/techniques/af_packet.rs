//! **E27 raw-net (AF_PACKET).** Proves the container can open a raw packet socket: with a shared
//! bridge that means ARP/DNS spoofing of neighbours, and the AF_PACKET kernel bug class
//! (CVE-2020-14386). Docker keeps CAP_NET_RAW by default. Stopped by: capabilities (drop
//! NET_RAW), seccomp.

use crate::state::cap;
use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "af-packet",
    eid: "E27",
    title: "raw AF_PACKET socket (spoofing, AF_PACKET bugs)",
    layers: "C (NET_RAW), S",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let proto = (libc::ETH_P_ALL as u16).to_be() as i32;
    super::socket_probe(
        ctx,
        libc::AF_PACKET,
        libc::SOCK_RAW,
        proto,
        Some(cap::NET_RAW),
        "AF_PACKET",
    )
}
