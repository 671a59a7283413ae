//! Test-only switches that turn exactly ONE of the runtime's own layers off,
//! so a test can show that the layer is load-bearing: with it off, a
//! technique of the escape battery succeeds; with it on, it is blocked
//! (crates/cli/tests/check_layers.rs, docs/check.md).
//!
//! `STOCKADE_TEST_UNSAFE=fd-hygiene,safe-path` (comma-separated):
//!
//! * `fd-hygiene`: the init opens the bundle directory on the host and
//!   leaves that fd open across the container's execve, the shape of the
//!   CVE-2024-21626 runc bug (a host directory fd inherited by the
//!   container process);
//! * `safe-path`: the bind target of each device node is made by joining
//!   strings on the host (`<rootfs>` + `/dev/null`, symlinks followed out of
//!   the rootfs) instead of resolving it inside the root, and masked paths
//!   are bound from the path `/dev/null` without checking that it is the
//!   1:3 device: the CVE-2021-30465 / CVE-2025-31133 shapes.
//!
//! Why this can never be active in a production binary:
//!
//! 1. the code that reads the variable exists only with the cargo feature
//!    `test-unsafe-knobs` of this crate, and the only crate that enables it
//!    is the cli crate, in its `[dev-dependencies]`. With the workspace's
//!    feature resolver 2, features of dev-dependencies are activated only
//!    when a target that needs them is built (`cargo test`), never for
//!    `cargo build`, `cargo build --release` or `cargo install`
//!    (`testknobs_are_not_in_a_normal_build` in crates/cli/tests/testknobs.rs
//!    checks this with `cargo tree`);
//! 2. even with the feature, the variable is honoured only with
//!    `debug_assertions`: a release-profile binary ignores it whatever
//!    features it was built with.
//!
//! When a knob is active, `create` logs a warning naming it.

use crate::error::{Error, Result};

/// The environment variable naming the layers to switch off.
pub const ENV: &str = "STOCKADE_TEST_UNSAFE";

/// A runtime layer a test may switch off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Knob {
    /// fds of the runtime are closed (CLOEXEC) before execve.
    FdHygiene,
    /// Paths inside the rootfs are resolved in the root, and /dev/null is
    /// verified before it is bound anywhere.
    SafePath,
}

impl Knob {
    pub const ALL: [Knob; 2] = [Knob::FdHygiene, Knob::SafePath];

    pub fn name(self) -> &'static str {
        match self {
            Knob::FdHygiene => "fd-hygiene",
            Knob::SafePath => "safe-path",
        }
    }
}

/// Whether this binary honours [`ENV`] at all.
pub const COMPILED_IN: bool = cfg!(all(feature = "test-unsafe-knobs", debug_assertions));

/// The knobs named in [`ENV`]; an unknown name is an error (fail closed).
/// Always empty in a binary without the knobs ([`COMPILED_IN`]).
pub fn active() -> Result<Vec<Knob>> {
    if !COMPILED_IN {
        return Ok(Vec::new());
    }
    let Ok(v) = std::env::var(ENV) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for name in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match Knob::ALL.iter().find(|k| k.name() == name) {
            Some(k) => out.push(*k),
            None => {
                return Err(Error::Usage(format!(
                    "{ENV}: unknown layer {name:?} (fd-hygiene, safe-path)"
                )))
            }
        }
    }
    Ok(out)
}

/// Whether `k` is switched off (always false without the knobs).
pub fn off(k: Knob) -> bool {
    COMPILED_IN && active().is_ok_and(|a| a.contains(&k))
}

#[cfg(all(feature = "test-unsafe-knobs", debug_assertions))]
static LEAKED: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

/// `fd-hygiene` off: open `dir` (a host directory) and keep the fd for
/// [`leak_across_exec`]. Opened O_CLOEXEC like every fd; only
/// [`leak_across_exec`], called after the runtime's own close_range, clears
/// the flag.
pub fn hold_host_dir(dir: &std::path::Path) -> Result<()> {
    #[cfg(all(feature = "test-unsafe-knobs", debug_assertions))]
    if off(Knob::FdHygiene) {
        use std::os::fd::IntoRawFd;
        let fd = nix::fcntl::open(
            dir,
            nix::fcntl::OFlag::O_RDONLY
                | nix::fcntl::OFlag::O_DIRECTORY
                | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .map_err(|e| Error::sys(format!("{ENV}=fd-hygiene: open {}", dir.display()), e))?;
        LEAKED.store(fd.into_raw_fd(), std::sync::atomic::Ordering::SeqCst);
    }
    let _ = dir;
    Ok(())
}

/// `fd-hygiene` off: clear CLOEXEC on the fd [`hold_host_dir`] opened, so
/// it survives execve (what fd hygiene exists to prevent).
pub fn leak_across_exec() {
    #[cfg(all(feature = "test-unsafe-knobs", debug_assertions))]
    {
        let fd = LEAKED.load(std::sync::atomic::Ordering::SeqCst);
        if fd >= 0 {
            // SAFETY: fcntl on an fd this process opened and still holds.
            unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
        }
    }
}
