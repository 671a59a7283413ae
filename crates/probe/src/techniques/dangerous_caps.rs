//! **dangerous-caps** (layer C). Lists escape-relevant capabilities in the effective set
//! (SYS_ADMIN, SYS_MODULE, SYS_PTRACE, DAC_READ_SEARCH, …). Not an escape by itself; the other
//! techniques show what each enables. Stopped by: capability drop (C), or a user namespace (U)
//! that makes them count only inside.

use crate::outcome::Layer;
use crate::state::cap;
use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "dangerous-caps",
    eid: "-",
    title: "escape-relevant capabilities in CapEff",
    layers: "C, U",
    run,
};

const DANGEROUS: [u32; 12] = [
    cap::SYS_ADMIN,
    cap::SYS_MODULE,
    cap::SYS_RAWIO,
    cap::SYS_PTRACE,
    cap::DAC_READ_SEARCH,
    cap::NET_ADMIN,
    cap::BPF,
    cap::PERFMON,
    cap::SYS_BOOT,
    cap::SYSLOG,
    cap::MKNOD,
    cap::NET_RAW,
];

fn run(ctx: &Ctx) -> Outcome {
    let have: Vec<&str> = DANGEROUS
        .iter()
        .filter(|c| ctx.state.has_cap(**c))
        .map(|c| cap::name(*c))
        .collect();
    if have.is_empty() {
        return Outcome::blocked_by(
            Layer::Capability,
            format!("CapEff: {}", ctx.state.cap_names().join(",")),
        );
    }
    if ctx.state.in_user_ns {
        return Outcome::blocked_by(
            Layer::UserNamespace,
            format!("{} held, but only inside a user namespace", have.join(",")),
        );
    }
    Outcome::exposed(format!("CapEff holds {}", have.join(",")))
}
