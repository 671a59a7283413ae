//! The Pod Security Standards checks, exactly as `k8s.io/pod-security-admission` defines them
//! (`policy/check_*.go` and `policy/registry.go`, read at kubernetes/pod-security-admission
//! 8f84a87).
//!
//! * 19 checks, 12 baseline and 7 restricted, each with the versions upstream has; for policy
//!   version v1.N a check uses its version with the largest minimum version ≤ N, and a check
//!   whose first version is newer than N does not run.
//! * Restricted is baseline plus the restricted checks, except that a restricted check can
//!   *override* baseline checks at the versions where it exists (capabilities_restricted →
//!   capabilities_baseline, seccompProfile_restricted → seccompProfile_baseline,
//!   restrictedVolumes → hostPathVolumes, procMount_restricted → procMount). So a Windows pod
//!   from v1.25 passes restricted's capability and seccomp checks even where it fails baseline's,
//!   as it does in Kubernetes.
//! * Containers are visited as PSA does: initContainers, containers, then ephemeralContainers.
//! * The checks run on the object after API-server defaulting: [`evaluate`] applies
//!   [`crate::k8s::apply_defaults`] to a copy when it would change anything.
//!
//! Every violation's message is PSA's `ForbiddenReason (ForbiddenDetail)` for that one offender;
//! [`check_results`] also gives each failing check's aggregated reason and detail exactly as PSA
//! prints them, so `pods "x" is forbidden: violates PodSecurity "baseline:v1.36": ...` can be
//! reproduced byte for byte with [`forbidden_detail`].

mod checks;

pub use checks::safe_sysctl;

use crate::catalogue::Level;
use crate::model::{PodWorkload, Violation};
use std::borrow::Cow;

/// A Pod Security policy version: `v1.N`, or latest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PssVersion {
    /// Kubernetes minor version (the `N` of `v1.N`).
    pub minor: u32,
}

impl PssVersion {
    /// `latest`: the newest version whose checks this build has, v1.37 (pod-security-admission
    /// at 8f84a87, whose v1.37 sysctls check adds `net.ipv4.tcp_slow_start_after_idle` and
    /// `net.ipv4.tcp_notsent_lowat`). Upstream's `api.LatestVersion()` is newer than every
    /// version, so each check runs at its newest version: the same as the newest `v1.N`.
    pub const LATEST: PssVersion = PssVersion { minor: 37 };

    /// `v1.N`.
    pub const fn v1(minor: u32) -> PssVersion {
        PssVersion { minor }
    }
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

/// The outcome of one failing check, as PSA reports it, with our per-field violations.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// Upstream check id (`privileged`, `runAsNonRoot`, ...).
    pub check: &'static str,
    /// Our rule id (`SKD-PSS-002`, ...).
    pub rule_id: crate::catalogue::RuleId,
    /// PSA's `ForbiddenReason`, e.g. `privileged`.
    pub reason: String,
    /// PSA's `ForbiddenDetail` aggregated over every offender, e.g.
    /// `containers "a", "b" must not set securityContext.privileged=true`.
    pub detail: String,
    /// One violation per offending field.
    pub violations: Vec<Violation>,
}

impl CheckResult {
    /// `reason (detail)`, as PSA joins them.
    pub fn message(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// PSA's aggregated `ForbiddenDetail()`: every failing check's `reason (detail)`, joined by
/// `", "`, in PSA's order — the text after `violates PodSecurity "<level>:<version>": `.
pub fn forbidden_detail(results: &[CheckResult]) -> String {
    results
        .iter()
        .map(CheckResult::message)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Evaluate the checks of `level` at `version`; one violation per offending field.
///
/// `Level::Hardened` evaluates the restricted checks (the PSS levels stop at restricted).
pub fn evaluate(w: &PodWorkload, level: Level, version: PssVersion) -> Vec<Violation> {
    // Only the violations are kept: PSA's aggregated detail is not built.
    results(w, level, version, false)
        .into_iter()
        .flat_map(|r| r.violations)
        .collect()
}

/// The failing checks of `level` at `version`, in PSA's order (baseline check ids sorted, then
/// restricted check ids sorted), each with PSA's reason and aggregated detail.
pub fn check_results(w: &PodWorkload, level: Level, version: PssVersion) -> Vec<CheckResult> {
    results(w, level, version, true)
}

/// [`check_results`]; `with_detail` false leaves every `detail` empty (cheaper when only the
/// violations are wanted).
fn results(
    w: &PodWorkload,
    level: Level,
    version: PssVersion,
    with_detail: bool,
) -> Vec<CheckResult> {
    let spec: Cow<'_, _> = if crate::k8s::needs_defaults(&w.spec) {
        let mut s = w.spec.clone();
        crate::k8s::apply_defaults(&mut s);
        Cow::Owned(s)
    } else {
        Cow::Borrowed(&w.spec)
    };
    let ctx = checks::Ctx::new(&w.pod_metadata, &spec, &w.spec_path, with_detail);

    let mut out = Vec::new();
    for (c, v) in selected(level, version) {
        if let Some(o) = (v.check)(&ctx) {
            let violations = o
                .items
                .into_iter()
                .map(|(field, message)| Violation::new(c.rule_id, field, message))
                .collect();
            out.push(CheckResult {
                check: c.id,
                rule_id: c.rule_id,
                reason: o.reason,
                detail: o.detail,
                violations,
            });
        }
    }
    out
}

/// The upstream check ids that run at `level` and `version`, in PSA's order.
pub fn active_checks(level: Level, version: PssVersion) -> Vec<&'static str> {
    selected(level, version)
        .into_iter()
        .map(|(c, _)| c.id)
        .collect()
}

/// The checks and check versions that run at `level` and `version`, as `registry.go` builds
/// them: every check of the level (restricted includes baseline) at its newest version not
/// newer than `version`, minus the baseline checks that a selected restricted version overrides.
fn selected(
    level: Level,
    version: PssVersion,
) -> Vec<(&'static checks::Check, &'static checks::Versioned)> {
    let restricted = level >= Level::Restricted;
    let active: Vec<_> = checks::CHECKS
        .iter()
        .filter(|c| restricted || c.level == Level::Baseline)
        .filter_map(|c| c.at(version.minor).map(|v| (c, v)))
        .collect();
    let overridden: Vec<&str> = active
        .iter()
        .flat_map(|(_, v)| v.overrides.iter().copied())
        .collect();
    active
        .into_iter()
        .filter(|(c, _)| !(c.level == Level::Baseline && overridden.contains(&c.id)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!("latest".parse::<PssVersion>().unwrap(), PssVersion::LATEST);
        assert_eq!("v1.19".parse::<PssVersion>().unwrap(), PssVersion::v1(19));
        assert!("1.19".parse::<PssVersion>().is_err());
        assert_eq!(PssVersion::v1(35).to_string(), "v1.35");
    }

    #[test]
    fn every_check_names_a_pss_rule_with_its_upstream_id() {
        for c in checks::CHECKS {
            let r = crate::catalogue::rule(c.rule_id);
            assert!(r.pss, "{}", c.rule_id);
            assert_eq!(r.upstream.as_deref(), Some(c.id));
            assert_eq!(r.level, c.level, "{}", c.id);
        }
        assert_eq!(checks::CHECKS.len(), 19);
    }

    #[test]
    fn checks_are_in_psa_order() {
        let ids = |l: Level| {
            checks::CHECKS
                .iter()
                .filter(|c| c.level == l)
                .map(|c| c.id)
                .collect::<Vec<_>>()
        };
        for l in [Level::Baseline, Level::Restricted] {
            let mut sorted = ids(l);
            sorted.sort();
            assert_eq!(ids(l), sorted);
        }
        let b = checks::CHECKS
            .iter()
            .position(|c| c.level == Level::Restricted);
        assert!(checks::CHECKS[b.unwrap()..]
            .iter()
            .all(|c| c.level == Level::Restricted));
    }

    #[test]
    fn active_sets_follow_upstream_versions_and_overrides() {
        let b0 = active_checks(Level::Baseline, PssVersion::v1(0));
        assert_eq!(b0.len(), 11, "{b0:?}");
        assert!(!b0.contains(&"hostProbesAndHostLifecycle"));
        let b34 = active_checks(Level::Baseline, PssVersion::v1(34));
        assert_eq!(b34.len(), 12);
        let r0 = active_checks(Level::Restricted, PssVersion::v1(0));
        assert!(r0.contains(&"seccompProfile_baseline"));
        assert!(r0.contains(&"capabilities_baseline"));
        assert!(!r0.contains(&"hostPathVolumes"));
        assert!(!r0.contains(&"allowPrivilegeEscalation"));
        let r36 = active_checks(Level::Restricted, PssVersion::v1(36));
        for gone in [
            "capabilities_baseline",
            "seccompProfile_baseline",
            "hostPathVolumes",
            "procMount",
        ] {
            assert!(!r36.contains(&gone), "{gone}");
        }
        assert_eq!(r36.len(), 19 - 4);
        assert_eq!(
            active_checks(Level::Hardened, PssVersion::v1(36)),
            r36,
            "hardened evaluates restricted"
        );
    }
}
