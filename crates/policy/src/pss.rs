//! The Pod Security Standards checks, as k8s.io/pod-security-admission defines them.
//! (Being written: see the PSS work item.)

use crate::catalogue::Level;
use crate::model::{PodWorkload, Violation};

/// A Pod Security policy version: `v1.N`, or latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PssVersion {
    /// Kubernetes minor version (the `N` of `v1.N`).
    pub minor: u32,
}

impl PssVersion {
    /// The newest version whose checks this build knows.
    pub const LATEST: PssVersion = PssVersion { minor: 36 };
}

impl std::str::FromStr for PssVersion {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(PssVersion::LATEST);
        }
        let minor = s
            .strip_prefix("v1.")
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| {
                format!("invalid Pod Security version {s:?} (expected v1.N or latest)")
            })?;
        Ok(PssVersion { minor })
    }
}

impl std::fmt::Display for PssVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "v1.{}", self.minor)
    }
}

/// Evaluate the checks of `level` (baseline or restricted) at `version`.
pub fn evaluate(_w: &PodWorkload, _level: Level, _version: PssVersion) -> Vec<Violation> {
    Vec::new()
}
