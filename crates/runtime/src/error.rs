//! Typed errors of the runtime. Every variant names what failed (a field of
//! config.json, a file, a container id) so the CLI can print one clear line.

use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bundle's config.json is missing, unreadable or not valid JSON.
    #[error("{path}: {msg}")]
    Config { path: PathBuf, msg: String },

    /// A config.json field holds a value we refuse (named by its JSON path).
    #[error("config.json: {field}: {msg}")]
    InvalidField { field: String, msg: String },

    /// A config.json feature that this runtime does not implement.
    #[error("config.json: {field}: not supported: {msg}")]
    Unsupported { field: String, msg: String },

    /// A container id that is not acceptable as a directory name.
    #[error("invalid container id {0:?}: use letters, digits, '_', '+', '-' and '.', not starting with '.' (reserved for the runtime's own files)")]
    InvalidId(String),

    /// `create` for an id that already exists.
    #[error("container {0:?} already exists")]
    Exists(String),

    /// Any command on an id that does not exist.
    #[error("container {0:?} does not exist")]
    NotFound(String),

    /// An operation not allowed in the container's current status.
    #[error("container {id:?} is {status}: {msg}")]
    BadStatus {
        id: String,
        status: String,
        msg: String,
    },

    /// A command-line argument we refuse.
    #[error("{0}")]
    Usage(String),

    /// A step of container setup failed inside the container's init process.
    #[error("{0}")]
    Init(String),

    /// A hook failed or timed out.
    #[error("hooks.{kind}[{index}] ({path}): {msg}")]
    Hook {
        kind: &'static str,
        index: usize,
        path: PathBuf,
        msg: String,
    },

    /// The systemd cgroup driver: systemd unreachable, or a unit it refused.
    #[error("systemd cgroup driver (--systemd-cgroup): {0}")]
    Systemd(String),

    /// A cgroup operation failed.
    #[error("cgroup {path}: {msg}")]
    Cgroup { path: PathBuf, msg: String },

    /// A system call failed; `what` says which step made it.
    #[error("{what}: {source}")]
    Sys {
        what: String,
        #[source]
        source: nix::Error,
    },

    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The policy gate refused config.json, or an exec process (`subject`;
    /// rule ids and fields, `; `-separated, the first few in full and then a
    /// count, and the ways to proceed; [`policy_summary`]).
    #[error("{}", policy_summary(subject, level, violations))]
    Policy {
        subject: &'static str,
        level: String,
        violations: Vec<String>,
    },

    /// Seccomp filter construction or loading failed.
    #[error("linux.seccomp: {0}")]
    Seccomp(String),
}

/// How many violations a refusal shows in full; the rest are counted (the
/// whole list goes to `--log`). conmon and containerd's shim pass on one
/// short line whole, not kilobytes.
pub const POLICY_SHOWN: usize = 3;

/// The one line of a refusal: what violates which level, the first
/// [`POLICY_SHOWN`] violations, and the three ways to relax the policy.
pub fn policy_summary(subject: &str, level: &str, violations: &[String]) -> String {
    const MAX: usize = 240;
    let mut shown: Vec<String> = violations
        .iter()
        .take(POLICY_SHOWN)
        .map(|v| match v.char_indices().nth(MAX) {
            Some((i, _)) => format!("{}...", &v[..i]),
            None => v.clone(),
        })
        .collect();
    if violations.len() > POLICY_SHOWN {
        shown.push(format!(
            "and {} more (all in --log)",
            violations.len() - POLICY_SHOWN
        ));
    }
    let mut ids: Vec<&str> = violations
        .iter()
        .filter_map(|v| v.split(' ').next())
        .collect();
    ids.dedup();
    ids.sort_unstable();
    ids.dedup();
    format!(
        "{subject} violates the {level} policy: {}. To proceed, change what the rules name, or \
         relax the policy: the runtime flag --policy=warn (podman --runtime-flag policy=warn), \
         policy = \"warn\" in {}, or ignore = [{}] there",
        shown.join("; "),
        crate::gate::RuntimeConfig::path().display(),
        ids.iter()
            .map(|i| format!("\"{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

impl Error {
    pub fn sys(what: impl Into<String>, source: nix::Error) -> Self {
        Error::Sys {
            what: what.into(),
            source,
        }
    }
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
    pub fn field(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::InvalidField {
            field: field.into(),
            msg: msg.into(),
        }
    }
    pub fn unsupported(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Unsupported {
            field: field.into(),
            msg: msg.into(),
        }
    }
}

/// Attach a step description to a nix result.
pub trait SysContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> SysContext<T> for nix::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::sys(what(), e))
    }
}
