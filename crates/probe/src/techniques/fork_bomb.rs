//! **E28 fork-bomb.** Forks sleeping children until `fork` fails or `--fork-cap` (default 4096)
//! is reached, then kills and reaps every one (they also die with their parent via
//! PR_SET_PDEATHSIG). Hitting EAGAIN before the cap means a pids limit works. Stopped by: the
//! pids cgroup (G), RLIMIT_NPROC (per uid, weak; root with CAP_SYS_RESOURCE/ADMIN ignores it).

use crate::outcome::Layer;
use crate::{errno_name, sys, Ctx, Outcome, Technique};

pub const T: Technique = Technique {
    id: "fork-bomb",
    eid: "E28",
    title: "fork bomb against pids.max (bounded, all reaped)",
    layers: "G (pids), rlimit",
    run,
};

fn pids_limit() -> String {
    for p in ["/sys/fs/cgroup/pids.max", "/sys/fs/cgroup/pids/pids.max"] {
        if let Ok(v) = sys::read_to_string(p) {
            return format!("pids.max={}", v.trim());
        }
    }
    "pids.max not visible".into()
}

fn run(ctx: &Ctx) -> Outcome {
    // SAFETY: getpid has no preconditions.
    let leader = unsafe { libc::getpid() };
    let mut kids: Vec<libc::pid_t> = Vec::with_capacity(ctx.cfg.fork_cap);
    let mut err = None;
    while kids.len() < ctx.cfg.fork_cap {
        // SAFETY: the technique process is single-threaded; the child only sleeps.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            err = Some(sys::errno());
            break;
        }
        if pid == 0 {
            // SAFETY: the child dies with us, and otherwise just waits to be killed.
            unsafe {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != leader {
                    libc::_exit(0);
                }
                loop {
                    libc::pause();
                }
            }
        }
        kids.push(pid);
    }
    let n = kids.len();
    for &k in &kids {
        // SAFETY: signalling our own children only.
        unsafe { libc::kill(k, libc::SIGKILL) };
    }
    for &k in &kids {
        let _ = sys::wait_pid(k);
    }
    let limit = pids_limit();
    match err {
        None => Outcome::exposed(format!(
            "forked {n} processes (the cap) without hitting a limit ({limit}); all reaped"
        )),
        Some(e @ libc::EAGAIN) => {
            let mut rl = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            // SAFETY: getrlimit into a local struct.
            unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut rl) };
            let layer = if ctx.state.uid != 0 && (rl.rlim_cur as usize) <= n + 64 {
                Layer::Rlimit
            } else {
                Layer::CgroupLimit
            };
            Outcome::blocked(
                e,
                layer,
                format!("fork: EAGAIN after {n} processes ({limit}); all reaped"),
            )
        }
        Some(e) => Outcome::blocked(
            e,
            Layer::Unknown,
            format!("fork: {} after {n} processes; all reaped", errno_name(e)),
        ),
    }
}
