//! # stockade-check: the escape battery under a runtime and a profile
//!
//! `stockade check` answers "what escapes from a container started by *this* runtime with *this*
//! configuration?" by doing it: it builds a minimal rootfs holding the static escape battery
//! (`stockade-probe`, plus busybox when a static one is installed), sets up safe targets of its
//! own, writes an OCI bundle for the chosen profile, runs the battery under the chosen runtime
//! with a private `--root`, and reports each technique as escaped, exposed, blocked (with the
//! layer) or not applicable. `--compare` runs up to six columns (or any set of runtimes and
//! profiles) and prints one matrix; [`FailOn`] turns what a run let through into an exit status.
//!
//! The steps, each in its own module:
//!
//! 1. [`locate`]: find the static probe and a static busybox (ELF without an interpreter).
//! 2. [`targets`]: a private work directory with the test's own targets — a scratch ext4 image
//!    on a loop device with a canary, a host canary file, a fake engine socket listener, a
//!    sleeper process, a harmless release_agent script and its marker path. Removed on drop.
//! 3. [`profile`]: the bundle's `config.json` for `default` (the runtime's own `spec`),
//!    `docker` (a Docker-like config), `privileged` or a file.
//! 4. [`runner`]: run the runtime (crun in a private mount namespace without the cgroup v2
//!    hierarchy of a hybrid host, which crun 1.8 refuses), parse the battery's JSON.
//! 5. [`matrix`]: the comparison matrix and the JSON document.

mod interrupt;
pub mod locate;
pub mod matrix;
pub mod profile;
pub mod runner;
pub mod targets;

use std::path::PathBuf;

pub use matrix::{Column, FailOn, Matrix};
pub use profile::Profile;
pub use runner::Runtime;

/// Errors of `stockade check`; each names what failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{cmd}` failed: {stderr}")]
    Command { cmd: String, stderr: String },
    #[error("no static stockade-probe found: {0}")]
    NoProbe(String),
    #[error("runtime `{0}` not found (install it, or pass --runtime PATH)")]
    NoRuntime(String),
    #[error("profile {path}: {msg}")]
    Profile { path: PathBuf, msg: String },
    #[error("{runtime} produced no battery report ({msg}); its output: {output}")]
    Report {
        runtime: String,
        msg: String,
        output: String,
    },
    #[error("interrupted; the targets were removed")]
    Interrupted,
    #[error("stockade check needs root (it starts containers and sets up a loop device)")]
    NotRoot,
}

pub type Result<T> = std::result::Result<T, Error>;

/// `path` as a C string for a libc call (a path with a NUL byte becomes empty, which fails).
pub(crate) fn sys_path(path: &std::path::Path) -> std::ffi::CString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap_or_default()
}

pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let what = what.into();
    move |source| Error::Io { what, source }
}

/// What to run: a runtime with a profile.
#[derive(Debug, Clone)]
pub struct Case {
    pub runtime: Runtime,
    pub profile: Profile,
}

impl Case {
    /// Column header, e.g. `stockade default` or `runc docker`.
    pub fn label(&self) -> String {
        format!("{} {}", self.runtime.name(), self.profile.name())
    }
}

/// Options shared by every case.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Technique ids or E-numbers passed to the probe's `--only`.
    pub only: Option<String>,
    /// The static probe; found by [`locate::probe`] when `None`.
    pub probe: Option<PathBuf>,
}

/// Run each case in turn against one set of targets; a case whose runtime fails becomes a column
/// with an error, so the other columns still print.
pub fn run(cases: &[Case], opts: &Options) -> Result<Matrix> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::NotRoot);
    }
    let probe = match &opts.probe {
        Some(p) => p.clone(),
        None => locate::probe()?,
    };
    let busybox = locate::busybox();
    interrupt::catch();
    let fx = targets::Fixture::new(&probe, busybox.as_deref())?;
    let mut columns = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if interrupt::happened() {
            // The fixture's Drop removes the loop device, the sleeper and the directory.
            return Err(Error::Interrupted);
        }
        let result = runner::run_case(&fx, case, opts, i);
        columns.push(Column {
            label: case.label(),
            runtime: case.runtime.name(),
            profile: case.profile.name(),
            result: result.map_err(|e| e.to_string()),
        });
    }
    if interrupt::happened() {
        return Err(Error::Interrupted);
    }
    Ok(Matrix {
        columns,
        notes: fx.notes.clone(),
    })
}

/// The columns of `--compare`: stockade, runc, crun and runsc (gVisor) defaults, then the
/// docker-like and privileged profiles under stockade. A runtime that is not installed is left
/// out of the list, with the reason in the second value (the caller prints it as a SKIP line);
/// stockade and runc are never left out (their absence is a column error, as for any runtime).
pub fn compare_cases(stockade: &Runtime) -> (Vec<Case>, Vec<String>) {
    let mut cases = Vec::new();
    let mut skipped = Vec::new();
    for rt in [
        stockade.clone(),
        Runtime::Runc,
        Runtime::Crun,
        Runtime::Runsc,
    ] {
        if matches!(rt, Runtime::Crun | Runtime::Runsc) && rt.binary().is_err() {
            skipped.push(format!(
                "{} default: {} is not installed (Debian package {})",
                rt.name(),
                rt.name(),
                rt.name()
            ));
            continue;
        }
        cases.push(Case {
            runtime: rt,
            profile: Profile::Default,
        });
    }
    for profile in [Profile::Docker, Profile::Privileged] {
        cases.push(Case {
            runtime: stockade.clone(),
            profile,
        });
    }
    (cases, skipped)
}

/// Every runtime under every profile, profile by profile (`--runtime a,b --profile x,y` gives
/// `a x`, `b x`, `a y`, `b y`). A runtime or profile named twice is an error naming it.
pub fn cross_cases(
    runtimes: &[Runtime],
    profiles: &[Profile],
) -> std::result::Result<Vec<Case>, String> {
    for (i, r) in runtimes.iter().enumerate() {
        if runtimes[..i].contains(r) {
            return Err(format!("--runtime names {} twice", r.name()));
        }
    }
    for (i, p) in profiles.iter().enumerate() {
        if profiles[..i].contains(p) {
            return Err(format!("--profile names {} twice", p.name()));
        }
    }
    let mut cases = Vec::new();
    for p in profiles {
        for r in runtimes {
            cases.push(Case {
                runtime: r.clone(),
                profile: p.clone(),
            });
        }
    }
    Ok(cases)
}
