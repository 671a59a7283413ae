//! # stockade-probe: the escape battery
//!
//! One module per technique under [`techniques`]; each tries a real escape (safely: targets are
//! the caller's own processes and files, kernel settings are written back with their current
//! value) and returns an [`Outcome`]. Each technique runs in its own forked child, so a chroot,
//! setns, unshare or crash in one cannot affect the next, and a timeout kills it.
//!
//! The E-numbers refer to `shared/reference/escape-techniques.md` §1.5.

pub mod config;
pub mod outcome;
pub mod report;
pub mod state;
pub mod sys;
pub mod techniques;

pub use config::Config;
pub use outcome::{errno_name, Layer, Outcome};
pub use state::{OpenFacts, ProcState};

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// What a technique gets: the caller's targets and the probe's own security context.
pub struct Ctx {
    pub cfg: Config,
    pub state: ProcState,
}

impl Ctx {
    pub fn new(cfg: Config) -> Ctx {
        Ctx {
            cfg,
            state: ProcState::current(),
        }
    }

    /// Blocked outcome for `errno` from an operation gated by capability `cap`.
    pub fn blocked(&self, errno: i32, cap: Option<u32>, step: &str) -> Outcome {
        let layer = self.state.attribute(errno, cap);
        Outcome::blocked(errno, layer, format!("{step}: {}", errno_name(errno)))
    }

    /// Blocked outcome for `errno` from `open(path, flags)`, attributed with
    /// [`ProcState::attribute_open`] (a control open of `/dev/null` with the same flags, and the
    /// target's owner).
    pub fn blocked_open(&self, errno: i32, path: &str, flags: i32, step: &str) -> Outcome {
        let facts = OpenFacts {
            control_errno: sys::open("/dev/null", flags).err(),
            owner: sys::stat(path).ok().map(|st| st.st_uid),
            overflow_uid: sys::read_to_string("/proc/sys/kernel/overflowuid")
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(65534),
        };
        let layer = self.state.attribute_open(errno, &facts);
        Outcome::blocked(errno, layer, format!("{step}: {}", errno_name(errno)))
    }
}

/// One technique of the battery.
pub struct Technique {
    /// Stable id, e.g. `core-pattern`.
    pub id: &'static str,
    /// E-number from escape-techniques.md, or `-` for checks outside the catalogue.
    pub eid: &'static str,
    /// One-line title.
    pub title: &'static str,
    /// Layers that should stop it (codes from §1.5).
    pub layers: &'static str,
    pub run: fn(&Ctx) -> Outcome,
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeResult {
    pub id: String,
    pub eid: String,
    pub title: String,
    pub outcome: Outcome,
}

/// Run the selected techniques, each in a forked child with a timeout.
pub fn run_battery(ctx: &Ctx) -> Vec<ProbeResult> {
    techniques::ALL
        .iter()
        .filter(|t| ctx.cfg.selected(t.id, t.eid))
        .map(|t| ProbeResult {
            id: t.id.to_string(),
            eid: t.eid.to_string(),
            title: t.title.to_string(),
            outcome: run_isolated(ctx, t),
        })
        .collect()
}

/// Run one technique in a forked child; the child sends its encoded outcome over a pipe.
pub fn run_isolated(ctx: &Ctx, t: &Technique) -> Outcome {
    let mut fds = [0; 2];
    // SAFETY: fds is a two-element array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Outcome::inconclusive(format!("pipe: {}", errno_name(sys::errno())));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: single-threaded at this point; the child only runs the technique and _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Outcome::inconclusive(format!("fork: {}", errno_name(sys::errno())));
    }
    if pid == 0 {
        drop(rd);
        // Our own process group, so a timeout can kill everything the technique spawned.
        // SAFETY: setpgid on ourselves.
        unsafe { libc::setpgid(0, 0) };
        let out = (t.run)(ctx);
        let _ = sys::write_fd(&wr, report::encode(&out).as_bytes());
        // SAFETY: leave without running the parent's destructors.
        unsafe { libc::_exit(0) };
    }
    drop(wr);
    // SAFETY: also set it from the parent side to close the race with kill().
    unsafe { libc::setpgid(pid, pid) };
    let deadline = Instant::now() + Duration::from_secs(ctx.cfg.timeout_secs.max(1));
    let mut buf = Vec::new();
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut pfd = libc::pollfd {
            fd: rd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(i32::MAX as u128) as i32) };
        if r < 0 {
            if sys::errno() == libc::EINTR {
                continue;
            }
            break;
        }
        if r == 0 {
            continue;
        }
        let mut chunk = [0u8; 4096];
        // SAFETY: reading into a local buffer.
        let n = unsafe { libc::read(rd.as_raw_fd(), chunk.as_mut_ptr().cast(), chunk.len()) };
        if n <= 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n as usize]);
    }
    if timed_out {
        // SAFETY: killing the technique's own process group (never 0 or -1).
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
            libc::kill(pid, libc::SIGKILL);
        }
    }
    let end = sys::wait_pid(pid);
    // Reap nothing else: grandchildren are the technique's job (it kills and reaps its own).
    if timed_out {
        return Outcome::inconclusive(format!("timed out after {}s", ctx.cfg.timeout_secs));
    }
    match report::decode(&String::from_utf8_lossy(&buf)) {
        Some(o) => o,
        None => Outcome::inconclusive(format!("technique child ended without a result: {end:?}")),
    }
}
