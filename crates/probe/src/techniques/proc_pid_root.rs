//! **E13 hostpid-proc-root.** With the host pid namespace, reads the caller's canary through
//! `/proc/<target-pid>/root/<host path>`: the target's root is the host's. Stopped by: a
//! separate pid namespace, ptrace access checks (capabilities SYS_PTRACE, dumpable), the auditor.

use crate::state::cap;
use crate::{sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "proc-pid-root",
    eid: "E13",
    title: "read host files via /proc/<host pid>/root",
    layers: "pid-ns, A, C (SYS_PTRACE), S",
    run,
};

fn run(ctx: &Ctx) -> Outcome {
    let pid = match super::target_pid(ctx) {
        Ok(p) => p,
        Err(o) => return o,
    };
    let root = format!("/proc/{pid}/root");
    let our = sys::stat("/").map(|s| sys::dev_ino(&s)).ok();
    let theirs = match sys::stat(&root) {
        Ok(s) => sys::dev_ino(&s),
        Err(e) => return ctx.blocked(e, Some(cap::SYS_PTRACE), &format!("stat {root}")),
    };
    if let Some(rel) = super::host_canary_rel(ctx) {
        let p = format!("{root}/{rel}");
        return match sys::read_head(&p, 4096) {
            Ok(b) => match super::host_canary::check_canary(ctx, &b) {
                Ok(ev) => Outcome::escaped(format!("read {p}: {ev:?}")),
                Err(why) => Outcome::exposed(format!("{p}: {why}")),
            },
            Err(e) => ctx.blocked(e, Some(cap::SYS_PTRACE), &format!("read {p}")),
        };
    }
    if Some(theirs) != our {
        Outcome::escaped(format!(
            "{root} is a different root: {}",
            sys::list_dir(&root, 8)
        ))
    } else {
        Outcome::exposed(format!("{root} readable but it is our own root"))
    }
}
