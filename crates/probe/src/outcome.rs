//! What one technique found, and which defensive layer stopped it.

use std::fmt;

/// The result of one escape attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The technique crossed the container boundary; `evidence` says what was read or done.
    Escaped { evidence: String },
    /// A dangerous primitive is reachable (an attack surface or a misconfiguration), but the
    /// probe did not (or safely could not) turn it into a host change.
    Exposed { detail: String },
    /// The attempt failed. `errno` is the error of the step that failed (`None` when the
    /// defence is structural, e.g. nothing leaked), `layer` the defence that explains it.
    Blocked {
        errno: Option<i32>,
        layer: Layer,
        detail: String,
    },
    /// The kernel (or this machine) lacks the feature, or the caller did not configure a target.
    NotApplicable { reason: String },
    /// The probe could not tell: the technique's child crashed or timed out.
    Inconclusive { detail: String },
}

impl Outcome {
    pub fn escaped(evidence: impl Into<String>) -> Self {
        Outcome::Escaped {
            evidence: evidence.into(),
        }
    }
    pub fn exposed(detail: impl Into<String>) -> Self {
        Outcome::Exposed {
            detail: detail.into(),
        }
    }
    pub fn blocked(errno: i32, layer: Layer, detail: impl Into<String>) -> Self {
        Outcome::Blocked {
            errno: Some(errno),
            layer,
            detail: detail.into(),
        }
    }
    pub fn blocked_by(layer: Layer, detail: impl Into<String>) -> Self {
        Outcome::Blocked {
            errno: None,
            layer,
            detail: detail.into(),
        }
    }
    pub fn na(reason: impl Into<String>) -> Self {
        Outcome::NotApplicable {
            reason: reason.into(),
        }
    }
    pub fn inconclusive(detail: impl Into<String>) -> Self {
        Outcome::Inconclusive {
            detail: detail.into(),
        }
    }

    /// Short machine name: `escaped`, `exposed`, `blocked`, `not-applicable`, `inconclusive`.
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Escaped { .. } => "escaped",
            Outcome::Exposed { .. } => "exposed",
            Outcome::Blocked { .. } => "blocked",
            Outcome::NotApplicable { .. } => "not-applicable",
            Outcome::Inconclusive { .. } => "inconclusive",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Outcome::Escaped { evidence } => evidence,
            Outcome::Exposed { detail } => detail,
            Outcome::Blocked { detail, .. } => detail,
            Outcome::NotApplicable { reason } => reason,
            Outcome::Inconclusive { detail } => detail,
        }
    }

    pub fn is_escaped(&self) -> bool {
        matches!(self, Outcome::Escaped { .. })
    }
}

/// The defensive layer a block is attributed to (codes from escape-techniques.md §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    /// U: a user namespace with a non-root host mapping.
    UserNamespace,
    /// C: the capability is not in the effective set.
    Capability,
    /// The capability is missing *and* a seccomp filter is loaded; either explains EPERM.
    CapabilityOrSeccomp,
    /// S: a seccomp filter (the capability was present, or none is needed).
    Seccomp,
    /// N: no_new_privs.
    NoNewPrivs,
    /// M: a masked path (/dev/null bind or empty tmpfs).
    MaskedPath,
    /// M: a read-only mount (EROFS).
    ReadOnlyMount,
    /// P: pivot_root with the old root detached.
    PivotRoot,
    /// Pr: private/slave mount propagation.
    Propagation,
    /// The path or object is simply not in this mount namespace.
    MountNamespace,
    /// The target process is not visible (separate pid namespace).
    PidNamespace,
    /// Separate network namespace.
    NetworkNamespace,
    /// G: a cgroup limit (pids.max, memory.max) or a cgroup namespace.
    CgroupLimit,
    /// D: the device cgroup / allow-list.
    DeviceCgroup,
    /// L and friends: an LSM (Landlock, AppArmor, SELinux) denial (EACCES with caps present).
    Lsm,
    /// F: fd hygiene / cwd verification by the runtime.
    FdHygiene,
    /// X: /proc/self/exe protection (sealed copy of the runtime binary).
    ExeProtection,
    /// R: safe path resolution / sane device nodes.
    SafePath,
    /// K: a sysctl restricts the feature.
    Sysctl,
    /// K: the kernel itself refuses (patched, or not supported in this context).
    Kernel,
    /// An rlimit (RLIMIT_NPROC, RLIMIT_AS).
    Rlimit,
    /// Plain file permissions: the probe runs as a non-root uid.
    Dac,
    /// The errno does not identify a layer.
    Unknown,
}

impl Layer {
    pub fn name(self) -> &'static str {
        match self {
            Layer::UserNamespace => "userns",
            Layer::Capability => "capability",
            Layer::CapabilityOrSeccomp => "capability|seccomp",
            Layer::Seccomp => "seccomp",
            Layer::NoNewPrivs => "no_new_privs",
            Layer::MaskedPath => "masked-path",
            Layer::ReadOnlyMount => "read-only-mount",
            Layer::PivotRoot => "pivot_root",
            Layer::Propagation => "propagation",
            Layer::MountNamespace => "mount-ns",
            Layer::PidNamespace => "pid-ns",
            Layer::NetworkNamespace => "net-ns",
            Layer::CgroupLimit => "cgroup",
            Layer::DeviceCgroup => "device-cgroup",
            Layer::Lsm => "lsm",
            Layer::FdHygiene => "fd-hygiene",
            Layer::ExeProtection => "exe-protection",
            Layer::SafePath => "safe-path",
            Layer::Sysctl => "sysctl",
            Layer::Kernel => "kernel",
            Layer::Rlimit => "rlimit",
            Layer::Dac => "dac",
            Layer::Unknown => "unknown",
        }
    }

    pub fn from_name(s: &str) -> Option<Layer> {
        ALL_LAYERS.iter().copied().find(|l| l.name() == s)
    }
}

const ALL_LAYERS: [Layer; 23] = [
    Layer::UserNamespace,
    Layer::Capability,
    Layer::CapabilityOrSeccomp,
    Layer::Seccomp,
    Layer::NoNewPrivs,
    Layer::MaskedPath,
    Layer::ReadOnlyMount,
    Layer::PivotRoot,
    Layer::Propagation,
    Layer::MountNamespace,
    Layer::PidNamespace,
    Layer::NetworkNamespace,
    Layer::CgroupLimit,
    Layer::DeviceCgroup,
    Layer::Lsm,
    Layer::FdHygiene,
    Layer::ExeProtection,
    Layer::SafePath,
    Layer::Sysctl,
    Layer::Kernel,
    Layer::Rlimit,
    Layer::Dac,
    Layer::Unknown,
];

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Symbolic name of an errno value (the ones the battery meets), or `E<n>`.
pub fn errno_name(e: i32) -> String {
    let s = match e {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::EINTR => "EINTR",
        libc::EIO => "EIO",
        libc::ENXIO => "ENXIO",
        libc::E2BIG => "E2BIG",
        libc::EBADF => "EBADF",
        libc::ECHILD => "ECHILD",
        libc::EAGAIN => "EAGAIN",
        libc::ENOMEM => "ENOMEM",
        libc::EACCES => "EACCES",
        libc::EFAULT => "EFAULT",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENODEV => "ENODEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENFILE => "ENFILE",
        libc::EMFILE => "EMFILE",
        libc::ETXTBSY => "ETXTBSY",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::ENOSYS => "ENOSYS",
        libc::ELOOP => "ELOOP",
        libc::ESTALE => "ESTALE",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EPROTONOSUPPORT => "EPROTONOSUPPORT",
        libc::ECONNREFUSED => "ECONNREFUSED",
        libc::ENETUNREACH => "ENETUNREACH",
        libc::EHOSTUNREACH => "EHOSTUNREACH",
        libc::ETIMEDOUT => "ETIMEDOUT",
        libc::ENOTSOCK => "ENOTSOCK",
        libc::EDQUOT => "EDQUOT",
        libc::ENOKEY => "ENOKEY",
        libc::ENOTTY => "ENOTTY",
        _ => return format!("E{e}"),
    };
    s.to_string()
}
