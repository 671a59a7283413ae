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

    /// Blocked outcome for `errno` from a step gated by capability `cap` whose syscall `control`
    /// can test harmlessly. When both a missing capability and a loaded filter could explain the
    /// refusal ([`Layer::CapabilityOrSeccomp`]), the control call settles it: if it gets the
    /// kernel's own answer (the filter let the syscall through), the capability is what refused.
    pub fn blocked_cap(&self, errno: i32, cap: u32, control: Control, step: &str) -> Outcome {
        let mut layer = self.state.attribute(errno, Some(cap));
        if layer == Layer::CapabilityOrSeccomp && control.reaches_kernel() {
            layer = Layer::Capability;
        }
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

/// A harmless call of a capability-gated syscall that the kernel refuses on its arguments
/// before any capability check, so its errno shows whether a seccomp filter lets the syscall
/// reach the kernel at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// `unshare(FLAGS | 1)`: the same namespace flags (so a filter on them decides the same way)
    /// plus a bit unshare(2) does not know, which the kernel refuses with EINVAL before it looks
    /// at capabilities or creates anything.
    Unshare(libc::c_int),
    /// `mount(NULL, "/nonexistent/…", NULL, MS_BIND, NULL)`: ENOENT from the target lookup.
    Mount,
    /// `chroot("/nonexistent/…")`: ENOENT from the path lookup.
    Chroot,
    /// `mknod("/nonexistent/…", S_IFCHR, 1:3)`: ENOENT from the parent lookup.
    Mknod,
}

impl Control {
    const MISSING: &'static str = "/nonexistent/stockade-probe-control";

    /// Whether the control call got the kernel's own answer (EINVAL or ENOENT).
    pub fn reaches_kernel(self) -> bool {
        let p = sys::cstr(Self::MISSING);
        // SAFETY: each call gets a valid NUL-terminated path or null pointers the syscall
        // accepts; none of them can change anything (no-op flags, a missing path).
        let rc = unsafe {
            match self {
                Control::Unshare(flags) => libc::unshare(flags | 1),
                Control::Mount => libc::mount(
                    std::ptr::null(),
                    p.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                ),
                Control::Chroot => libc::chroot(p.as_ptr()),
                Control::Mknod => {
                    libc::mknod(p.as_ptr(), libc::S_IFCHR | 0o600, libc::makedev(1, 3))
                }
            }
        };
        let want = match self {
            Control::Unshare(_) => libc::EINVAL,
            _ => libc::ENOENT,
        };
        let got = if rc == 0 { 0 } else { sys::errno() };
        got == want
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
