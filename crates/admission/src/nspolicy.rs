//! Which policy applies in a namespace: Pod Security's `enforce`, `audit` and `warn` modes, each a
//! level and a version, read from the namespace labels exactly as Kubernetes' Pod Security
//! admission reads them, plus Stockade's `stockade.io/enforce` label for the escape rules.

use policy::{Level, PssVersion};
use std::collections::BTreeMap;
use std::fmt;

/// Label prefix of Kubernetes' Pod Security admission.
pub const PSA_PREFIX: &str = "pod-security.kubernetes.io/";
/// Namespace label that enforces Stockade's escape rules up to a level.
pub const STOCKADE_ENFORCE_LABEL: &str = "stockade.io/enforce";

/// A Pod Security level: `privileged` (no checks), `baseline` or `restricted`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PsaLevel {
    Privileged,
    Baseline,
    Restricted,
}

impl PsaLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            PsaLevel::Privileged => "privileged",
            PsaLevel::Baseline => "baseline",
            PsaLevel::Restricted => "restricted",
        }
    }

    /// The policy crate's level for the checks, `None` for privileged.
    pub fn policy_level(self) -> Option<Level> {
        match self {
            PsaLevel::Privileged => None,
            PsaLevel::Baseline => Some(Level::Baseline),
            PsaLevel::Restricted => Some(Level::Restricted),
        }
    }

    /// The Pod Security level a Stockade level implies (`hardened` applies restricted's checks).
    pub fn from_level(l: Level) -> PsaLevel {
        match l {
            Level::Baseline => PsaLevel::Baseline,
            Level::Restricted | Level::Hardened => PsaLevel::Restricted,
        }
    }

    pub fn parse(s: &str) -> Option<PsaLevel> {
        match s {
            "privileged" => Some(PsaLevel::Privileged),
            "baseline" => Some(PsaLevel::Baseline),
            "restricted" => Some(PsaLevel::Restricted),
            _ => None,
        }
    }
}

/// A Pod Security version: `latest` or `v1.N` (kept as written so messages say what the label
/// said, as Kubernetes' do).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PsaVersion {
    Latest,
    V(PssVersion),
}

impl PsaVersion {
    pub fn pss(self) -> PssVersion {
        match self {
            PsaVersion::Latest => PssVersion::LATEST,
            // Versions newer than this build knows are evaluated as the newest it knows.
            PsaVersion::V(v) => v.min(PssVersion::LATEST),
        }
    }

    pub fn parse(s: &str) -> Option<PsaVersion> {
        if s == "latest" {
            return Some(PsaVersion::Latest);
        }
        s.parse::<PssVersion>().ok().map(PsaVersion::V)
    }
}

impl fmt::Display for PsaVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PsaVersion::Latest => f.write_str("latest"),
            PsaVersion::V(v) => write!(f, "{v}"),
        }
    }
}

/// A level at a version, displayed as Kubernetes does: `baseline:v1.36`, `restricted:latest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    pub level: PsaLevel,
    pub version: PsaVersion,
}

impl LevelVersion {
    pub const PRIVILEGED: LevelVersion = LevelVersion {
        level: PsaLevel::Privileged,
        version: PsaVersion::Latest,
    };
    pub const RESTRICTED_LATEST: LevelVersion = LevelVersion {
        level: PsaLevel::Restricted,
        version: PsaVersion::Latest,
    };

    pub fn new(level: PsaLevel, version: PsaVersion) -> Self {
        LevelVersion { level, version }
    }
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level.as_str(), self.version)
    }
}

/// The policy of one namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespacePolicy {
    pub enforce: LevelVersion,
    pub audit: LevelVersion,
    pub warn: LevelVersion,
    /// Level up to which Stockade's escape rules (those Pod Security lacks) are enforced on pods
    /// and warned about on controllers; `None`: not evaluated.
    pub escape: Option<Level>,
    /// Problems reading the labels (an invalid value is replaced by `restricted:latest`, as
    /// Kubernetes does), reported in the `error` audit annotation.
    pub errors: Vec<String>,
    /// The namespace is not in the API cache and the live lookup failed: as in Kubernetes' Pod
    /// Security admission, pods are refused with an internal error (fail closed) and
    /// controllers are allowed with the failure in the `error` audit annotation.
    pub lookup_failed: Option<String>,
}

impl NamespacePolicy {
    /// Every mode at one level: what a `/validate/<level>` path selects.
    pub fn uniform(level: Level) -> Self {
        let lv = LevelVersion::new(PsaLevel::from_level(level), PsaVersion::Latest);
        NamespacePolicy {
            enforce: lv,
            audit: lv,
            warn: lv,
            escape: Some(level),
            errors: Vec::new(),
            lookup_failed: None,
        }
    }

    /// Kubernetes' default for an unlabelled namespace: privileged everywhere, no escape rules.
    pub fn privileged() -> Self {
        NamespacePolicy {
            enforce: LevelVersion::PRIVILEGED,
            audit: LevelVersion::PRIVILEGED,
            warn: LevelVersion::PRIVILEGED,
            escape: None,
            errors: Vec::new(),
            lookup_failed: None,
        }
    }

    /// Read the policy from namespace labels; modes without a label keep `defaults`' value.
    pub fn from_labels(labels: &BTreeMap<String, String>, defaults: &NamespacePolicy) -> Self {
        let mut p = defaults.clone();
        p.errors.clear();
        for (mode, slot) in [
            ("enforce", &mut p.enforce),
            ("audit", &mut p.audit),
            ("warn", &mut p.warn),
        ] {
            let level_key = format!("{PSA_PREFIX}{mode}");
            let version_key = format!("{PSA_PREFIX}{mode}-version");
            if let Some(v) = labels.get(&level_key) {
                match PsaLevel::parse(v) {
                    Some(l) => slot.level = l,
                    None => {
                        p.errors.push(format!("{level_key}: invalid level {v:?}"));
                        *slot = LevelVersion::RESTRICTED_LATEST;
                        continue;
                    }
                }
            }
            if let Some(v) = labels.get(&version_key) {
                match PsaVersion::parse(v) {
                    Some(ver) => slot.version = ver,
                    None => {
                        p.errors
                            .push(format!("{version_key}: invalid version {v:?}"));
                        *slot = LevelVersion::RESTRICTED_LATEST;
                    }
                }
            }
        }
        if let Some(v) = labels.get(STOCKADE_ENFORCE_LABEL) {
            match v.as_str() {
                "privileged" | "none" | "" => p.escape = None,
                other => match other.parse::<Level>() {
                    Ok(l) => p.escape = Some(l),
                    Err(_) => {
                        p.errors
                            .push(format!("{STOCKADE_ENFORCE_LABEL}: invalid level {v:?}"));
                        p.escape = Some(Level::Hardened);
                    }
                },
            }
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn reads_psa_labels() {
        let p = NamespacePolicy::from_labels(
            &labels(&[
                ("pod-security.kubernetes.io/enforce", "baseline"),
                ("pod-security.kubernetes.io/enforce-version", "v1.36"),
                ("pod-security.kubernetes.io/warn", "restricted"),
                ("stockade.io/enforce", "restricted"),
            ]),
            &NamespacePolicy::privileged(),
        );
        assert_eq!(p.enforce.to_string(), "baseline:v1.36");
        assert_eq!(p.warn.to_string(), "restricted:latest");
        assert_eq!(p.audit.to_string(), "privileged:latest");
        assert_eq!(p.escape, Some(Level::Restricted));
        assert!(p.errors.is_empty());
    }

    #[test]
    fn invalid_labels_fail_closed() {
        let p = NamespacePolicy::from_labels(
            &labels(&[
                ("pod-security.kubernetes.io/enforce", "strict"),
                ("pod-security.kubernetes.io/audit-version", "1.30"),
            ]),
            &NamespacePolicy::privileged(),
        );
        assert_eq!(p.enforce, LevelVersion::RESTRICTED_LATEST);
        assert_eq!(p.audit, LevelVersion::RESTRICTED_LATEST);
        assert_eq!(p.errors.len(), 2);
    }

    #[test]
    fn future_versions_evaluate_as_latest() {
        let v = PsaVersion::parse("v1.99").unwrap();
        assert_eq!(v.pss(), PssVersion::LATEST);
        assert_eq!(v.to_string(), "v1.99");
    }
}
