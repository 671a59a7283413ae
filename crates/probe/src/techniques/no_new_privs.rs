//! **no-new-privs** (layer N). Reports `NoNewPrivs`: without it a setuid or file-capability binary
//! in the image raises privileges on exec (Docker's default). Stopped by: no_new_privs.

use crate::outcome::Layer;
use crate::{Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "no-new-privs",
    eid: "-",
    title: "no_new_privs set",
    layers: "N",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    if ctx.state.no_new_privs {
        Outcome::blocked_by(Layer::NoNewPrivs, "NoNewPrivs=1")
    } else {
        Outcome::exposed("NoNewPrivs=0: setuid/file-cap binaries can raise privileges on exec")
    }
}
